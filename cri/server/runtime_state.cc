#include "cri/server/runtime_state.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/log.h"

namespace vpcri::cri {
namespace {

runtime::image::ManagerConfig image_manager_config(const Config& config) {
  runtime::image::ManagerConfig out;
  out.root = config.root + "/images";
  auto slash = config.images.platform.find('/');
  out.platform_os = config.images.platform.substr(0, slash);
  out.platform_arch = config.images.platform.substr(slash + 1);
  for (const auto& [host, h] : config.registries) {
    auto& host_config = out.registry.hosts[host];
    host_config.mirrors = h.mirrors;
    host_config.insecure_http = h.insecure_http;
    host_config.skip_host = h.skip_host;
  }
  return out;
}

}  // namespace

RuntimeState::RuntimeState(Config config)
    : config_(std::move(config)),
      cgroup_mode_(runtime::detect_cgroup_mode()),
      cgroup_root_(runtime::cgroup::discover_cgroup_root()),
      images_(std::make_unique<runtime::image::ImageManager>(image_manager_config(config_))),
      store_(config_.root, config_.state) {
  const std::string path = pod_cidr_path();
  if (!fs::exists(path)) return;
  // A damaged file must not keep the daemon from starting: kubelet can send the CIDRs again.
  try {
    auto j = nlohmann::json::parse(fs::read_file(path));
    for (const auto& text : j.at("pod_cidrs")) {
      std::string why;
      auto cidr = net::Cidr::parse(text.get<std::string>(), &why);
      if (!cidr) throw std::runtime_error(text.get<std::string>() + ": " + why);
      pod_cidrs_.push_back(*cidr);
    }
  } catch (const std::exception& e) {
    pod_cidrs_.clear();
    log::warn("ignoring unreadable pod CIDR file", {{"path", path}, {"error", e.what()}});
  }
}

RuntimeState::~RuntimeState() = default;

void RuntimeState::preload_images() {
  std::vector<std::string> archives;
  std::string sandbox_archive = config_.images.sandbox_image_archive;
  if (!fs::exists(sandbox_archive) && sandbox_archive == ImagesConfig{}.sandbox_image_archive) {
    // Not installed: a vpcrid run from the build tree finds the archive built beside it.
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) sandbox_archive = (exe.parent_path().parent_path() / "pause" / "pause-image.tar").string();
  }
  if (fs::exists(sandbox_archive)) {
    archives.push_back(sandbox_archive);
  } else if (!images_->find(config_.images.sandbox_image)) {
    log::warn("sandbox image archive not found", {{"path", config_.images.sandbox_image_archive},
                                                  {"sandbox_image", config_.images.sandbox_image}});
  }
  archives.insert(archives.end(), config_.images.preload.begin(), config_.images.preload.end());
  for (const auto& archive : archives) {
    try {
      for (const auto& image : images_->import_archive(archive)) {
        std::string tags;
        for (const auto& t : image.repo_tags) tags += (tags.empty() ? "" : ",") + t;
        log::info("imported image archive", {{"archive", archive}, {"id", image.id}, {"tags", tags}});
      }
    } catch (const std::exception& e) {
      log::error("cannot import image archive", {{"archive", archive}, {"error", e.what()}});
    }
  }
}

std::string RuntimeState::pinned_image_id() const {
  auto sandbox = images_->find(config_.images.sandbox_image);
  return sandbox ? sandbox->id : std::string();
}

std::string RuntimeState::sandbox_image_problem() const {
  if (images_->find(config_.images.sandbox_image)) return {};
  return "sandbox image " + config_.images.sandbox_image + " is not present (import it, or set images.sandbox_image)";
}

std::string RuntimeState::pod_cidr_path() const { return config_.root + "/pod-cidrs.json"; }

std::vector<net::Cidr> RuntimeState::pod_cidrs() const {
  std::lock_guard lock(mu_);
  return pod_cidrs_;
}

void RuntimeState::set_pod_cidrs(const std::vector<net::Cidr>& cidrs) {
  std::lock_guard lock(mu_);
  if (pod_cidrs_ == cidrs) return;
  nlohmann::json list = nlohmann::json::array();
  std::string joined;
  for (const auto& c : cidrs) {
    list.push_back(c.to_string());
    joined += (joined.empty() ? "" : ",") + c.to_string();
  }
  fs::write_file_atomic(pod_cidr_path(), nlohmann::json{{"pod_cidrs", list}}.dump() + "\n", 0600);
  pod_cidrs_ = cidrs;
  log::info("pod CIDRs updated", {{"pod_cidrs", joined}});
}

}  // namespace vpcri::cri

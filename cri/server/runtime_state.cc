#include "cri/server/runtime_state.h"

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/log.h"

namespace vpcri::cri {

RuntimeState::RuntimeState(Config config)
    : config_(std::move(config)), cgroup_mode_(runtime::detect_cgroup_mode()) {
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

// vpcrictl image commands: pull, images, inspecti, rmi, image import, imagefsinfo.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cri/ctl/commands.h"

namespace vpcri::ctl {
namespace {

namespace v1 = runtime::v1;

constexpr std::chrono::minutes kLongTimeout{30};

std::chrono::milliseconds long_timeout(const Options& opts) {
  return opts.timeout_set ? opts.timeout : std::chrono::duration_cast<std::chrono::milliseconds>(kLongTimeout);
}

void usage_error(const std::string& message) { throw std::invalid_argument(message); }

// Splits "docker.io/library/busybox:1.36" into repository and tag ("<none>" when absent).
std::pair<std::string, std::string> repo_and_tag(const std::string& ref) {
  auto colon = ref.rfind(':');
  auto slash = ref.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {ref, "<none>"};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

}  // namespace

std::string human_size(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000 && unit < 4) {
    value /= 1000;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f%s" : "%.3g%s", value, units[unit]);
  return buf;
}

int cmd_pull(Client& client, const Options& opts, const Args& args) {
  std::string image, creds;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--creds" && i + 1 < args.size()) {
      creds = args[++i];
    } else if (!args[i].empty() && args[i][0] == '-') {
      usage_error("pull: unknown option " + args[i] + " (usage: vpcrictl pull [--creds USER:PASSWORD] IMAGE)");
    } else if (image.empty()) {
      image = args[i];
    } else {
      usage_error("pull: one image at a time");
    }
  }
  if (image.empty()) usage_error("pull: missing IMAGE (usage: vpcrictl pull [--creds USER:PASSWORD] IMAGE)");
  ::vpcri::v1::PullImageRequest req;
  req.set_image(image);
  if (!creds.empty()) {
    auto colon = creds.find(':');
    req.set_username(creds.substr(0, colon));
    if (colon != std::string::npos) req.set_password(creds.substr(colon + 1));
  }
  const bool show_progress = ::isatty(STDERR_FILENO);
  auto ctx = client.context(long_timeout(opts));
  auto reader = client.admin().PullImage(ctx.get(), req);
  ::vpcri::v1::PullImageProgress msg;
  std::string image_ref;
  while (reader->Read(&msg)) {
    if (!msg.image_ref().empty()) {
      image_ref = msg.image_ref();
    } else if (show_progress) {
      std::string total = msg.total() >= 0 ? human_size(static_cast<uint64_t>(msg.total())) : "?";
      std::cerr << "\r\033[K" << truncate_id(msg.what(), false) << ": "
                << human_size(static_cast<uint64_t>(msg.done())) << " / " << total << std::flush;
    }
  }
  if (show_progress) std::cerr << "\r\033[K" << std::flush;
  grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    // Not vpcri: plain CRI pull, without progress.
    v1::PullImageRequest cri_req;
    cri_req.mutable_image()->set_image(image);
    cri_req.mutable_auth()->set_username(req.username());
    cri_req.mutable_auth()->set_password(req.password());
    v1::PullImageResponse cri_resp;
    client.check(client.images().PullImage(client.context(long_timeout(opts)).get(), cri_req, &cri_resp), "PullImage");
    image_ref = cri_resp.image_ref();
  } else {
    client.check(status, "PullImage");
  }
  std::cout << "Image is up to date for " << image_ref << "\n";
  return 0;
}

int cmd_images(Client& client, const Options& opts, const Args& args) {
  bool quiet = false;
  v1::ListImagesRequest req;
  for (const auto& a : args) {
    if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (!a.empty() && a[0] == '-') {
      usage_error("images: unknown option " + a + " (usage: vpcrictl images [-q] [IMAGE])");
    } else {
      req.mutable_filter()->mutable_image()->set_image(a);
    }
  }
  v1::ListImagesResponse resp;
  client.check(client.images().ListImages(client.context().get(), req, &resp), "ListImages");
  if (opts.format == Format::json) {
    std::cout << to_json(resp);
    return 0;
  }
  if (quiet) {
    for (const auto& image : resp.images()) std::cout << image.id() << "\n";
    return 0;
  }
  Table t({"IMAGE", "TAG", "IMAGE ID", "SIZE"});
  for (const auto& image : resp.images()) {
    if (image.repo_tags().empty()) {
      std::string repo = image.repo_digests().empty() ? "<none>" : image.repo_digests(0).substr(0, image.repo_digests(0).find('@'));
      t.add({repo, "<none>", truncate_id(image.id(), false), human_size(image.size())});
    }
    for (const auto& tag : image.repo_tags()) {
      auto [repo, version] = repo_and_tag(tag);
      t.add({repo, version, truncate_id(image.id(), false), human_size(image.size())});
    }
  }
  t.print(std::cout);
  return 0;
}

int cmd_inspecti(Client& client, const Options&, const Args& args) {
  if (args.empty()) usage_error("inspecti: missing IMAGE (usage: vpcrictl inspecti IMAGE...)");
  int rc = 0;
  for (const auto& ref : args) {
    v1::ImageStatusRequest req;
    req.mutable_image()->set_image(ref);
    req.set_verbose(true);
    v1::ImageStatusResponse resp;
    client.check(client.images().ImageStatus(client.context().get(), req, &resp), "ImageStatus");
    if (!resp.has_image()) {
      std::cerr << "vpcrictl inspecti: no such image: " << ref << "\n";
      rc = 1;
      continue;
    }
    nlohmann::ordered_json out;
    out["status"] = nlohmann::json::parse(to_json(resp.image()));
    for (const auto& [key, value] : resp.info()) {
      auto parsed = nlohmann::json::parse(value, nullptr, false);
      out["info"] = parsed.is_discarded() ? nlohmann::json(value) : parsed;
    }
    std::cout << out.dump(2) << "\n";
  }
  return rc;
}

int cmd_rmi(Client& client, const Options&, const Args& args) {
  if (args.empty()) usage_error("rmi: missing IMAGE (usage: vpcrictl rmi IMAGE...)");
  for (const auto& ref : args) {
    v1::RemoveImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::RemoveImageResponse resp;
    client.check(client.images().RemoveImage(client.context().get(), req, &resp), "RemoveImage");
    std::cout << "Deleted: " << ref << "\n";
  }
  return 0;
}

int cmd_image(Client& client, const Options& opts, const Args& args) {
  if (args.size() != 2 || args[0] != "import") usage_error("image: usage: vpcrictl image import FILE");
  char* resolved = ::realpath(args[1].c_str(), nullptr);
  if (!resolved) throw std::runtime_error("image import: cannot open " + args[1]);
  ::vpcri::v1::ImportImageRequest req;
  req.set_path(resolved);
  std::free(resolved);
  ::vpcri::v1::ImportImageResponse resp;
  client.check(client.admin().ImportImage(client.context(long_timeout(opts)).get(), req, &resp), "ImportImage");
  for (const auto& image : resp.images()) {
    std::string tags;
    for (const auto& tag : image.repo_tags()) tags += " " + tag;
    std::cout << "Imported " << image.id() << (tags.empty() ? " (untagged)" : tags) << "\n";
  }
  return 0;
}

int cmd_imagefsinfo(Client& client, const Options&, const Args&) {
  v1::ImageFsInfoRequest req;
  v1::ImageFsInfoResponse resp;
  client.check(client.images().ImageFsInfo(client.context().get(), req, &resp), "ImageFsInfo");
  std::cout << to_json(resp);
  return 0;
}

}  // namespace vpcri::ctl

#include "cri/server/admin_service.h"

#include <chrono>

#include "common/log.h"
#include "cri/server/grpc_status.h"

namespace vpcri::cri {

grpc::Status AdminService::ImportImage(grpc::ServerContext*, const ::vpcri::v1::ImportImageRequest* req,
                                       ::vpcri::v1::ImportImageResponse* resp) {
  return handle_rpc("ImportImage", [&] {
    const std::string& path = req->path();
    if (path.empty() || path[0] != '/') {
      throw Error(Errc::invalid_argument, "ImportImage: expected an absolute path on the node, got \"" + path + "\"");
    }
    for (const auto& image : state_.images().import_archive(path)) {
      auto* out = resp->add_images();
      out->set_id(image.id);
      for (const auto& tag : image.repo_tags) out->add_repo_tags(tag);
      log::info("imported image", {{"archive", path}, {"id", image.id}});
    }
  });
}

grpc::Status AdminService::PullImage(grpc::ServerContext* ctx, const ::vpcri::v1::PullImageRequest* req,
                                     grpc::ServerWriter<::vpcri::v1::PullImageProgress>* writer) {
  return handle_rpc("Admin.PullImage", [&] {
    if (req->image().empty()) throw Error(Errc::invalid_argument, "PullImage: image reference is empty");
    runtime::registry::Credentials creds;
    creds.username = req->username();
    creds.password = req->password();
    // At most ~10 updates a second: progress is for people, not a byte counter.
    auto last = std::chrono::steady_clock::time_point{};
    auto progress = [&](const std::string& what, int64_t done, int64_t total) {
      if (ctx->IsCancelled()) throw Error(Errc::deadline_exceeded, "PullImage: the client went away");
      auto now = std::chrono::steady_clock::now();
      if (done != total && now - last < std::chrono::milliseconds(100)) return;
      last = now;
      ::vpcri::v1::PullImageProgress msg;
      msg.set_what(what);
      msg.set_done(done);
      msg.set_total(total);
      writer->Write(msg);
    };
    runtime::image::Image image = state_.images().pull(req->image(), creds, progress);
    ::vpcri::v1::PullImageProgress done;
    done.set_image_ref(image.id);
    writer->Write(done);
  });
}

}  // namespace vpcri::cri

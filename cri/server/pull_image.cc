#include "cri/server/grpc_status.h"
#include "cri/server/image_convert.h"
#include "common/log.h"

namespace vpcri::cri {

grpc::Status ImageService::PullImage(grpc::ServerContext*, const v1::PullImageRequest* req,
                                     v1::PullImageResponse* resp) {
  return handle_rpc("PullImage", [&] {
    const std::string& ref = req->image().image();
    if (ref.empty()) throw Error(Errc::invalid_argument, "PullImage: image reference is empty");
    const v1::AuthConfig& auth = req->auth();
    runtime::registry::Credentials creds;
    creds.username = auth.username();
    creds.password = auth.password();
    creds.auth = auth.auth();
    creds.identity_token = auth.identity_token();
    creds.registry_token = auth.registry_token();
    log::info("pulling image", {{"image", ref}});
    runtime::image::Image image = state_.images().pull(ref, creds);
    log::info("pulled image", {{"image", ref}, {"id", image.id}, {"size", std::to_string(image.size)}});
    // Like containerd: the image id (config digest), which CreateContainer then resolves.
    resp->set_image_ref(image.id);
  });
}

}  // namespace vpcri::cri

#include "cri/server/grpc_status.h"
#include "cri/server/image_convert.h"
#include "common/log.h"

namespace vpcri::cri {

grpc::Status ImageService::RemoveImage(grpc::ServerContext*, const v1::RemoveImageRequest* req,
                                       v1::RemoveImageResponse*) {
  return handle_rpc("RemoveImage", [&] {
    const std::string& ref = req->image().image();
    if (ref.empty()) throw Error(Errc::invalid_argument, "RemoveImage: image reference is empty");
    auto image = state_.images().find(ref);
    if (!image) return;  // idempotent
    if (image->id == state_.pinned_image_id()) {
      throw Error(Errc::failed_precondition, "RemoveImage: " + ref + " is the sandbox image every pod runs; it is kept");
    }
    state_.images().remove(image->id);
    log::info("removed image", {{"image", ref}, {"id", image->id}});
  });
}

}  // namespace vpcri::cri

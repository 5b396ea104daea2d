#include <nlohmann/json.hpp>

#include "cri/server/grpc_status.h"
#include "cri/server/image_convert.h"

namespace vpcri::cri {

grpc::Status ImageService::ImageStatus(grpc::ServerContext*, const v1::ImageStatusRequest* req,
                                       v1::ImageStatusResponse* resp) {
  return handle_rpc("ImageStatus", [&] {
    const std::string& ref = req->image().image();
    if (ref.empty()) throw Error(Errc::invalid_argument, "ImageStatus: image reference is empty");
    auto image = state_.images().find(ref);
    if (!image) return;  // kubelet expects an empty image, not an error, for an absent one
    to_cri_image(*image, image->id == state_.pinned_image_id(), resp->mutable_image());
    if (req->verbose()) {
      nlohmann::json info;
      info["id"] = image->id;
      info["layers"] = image->layer_paths;
      info["imageSpec"] = nlohmann::json::parse(image->raw_config, nullptr, false);
      if (info["imageSpec"].is_discarded()) info["imageSpec"] = image->raw_config;
      (*resp->mutable_info())["info"] = info.dump();
    }
  });
}

}  // namespace vpcri::cri

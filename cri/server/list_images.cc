#include "cri/server/grpc_status.h"
#include "cri/server/image_convert.h"

namespace vpcri::cri {

grpc::Status ImageService::ListImages(grpc::ServerContext*, const v1::ListImagesRequest* req,
                                      v1::ListImagesResponse* resp) {
  return handle_rpc("ListImages", [&] {
    auto& images = state_.images();
    const std::string pinned = state_.pinned_image_id();
    const std::string& filter = req->filter().image().image();
    if (!filter.empty()) {
      // A filter names one image, as ImageStatus does; no match is an empty list.
      if (auto image = images.find(filter)) to_cri_image(*image, image->id == pinned, resp->add_images());
      return;
    }
    for (const auto& image : images.list()) to_cri_image(image, image.id == pinned, resp->add_images());
  });
}

}  // namespace vpcri::cri

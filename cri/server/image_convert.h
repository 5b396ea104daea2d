// runtime/ image values -> CRI messages.
#pragma once

#include "cri/server/runtime_service.h"
#include "runtime/image/image_manager.h"

namespace vpcri::cri {

// Fills a CRI Image. `pinned` marks images kubelet's image GC must keep (the sandbox image).
void to_cri_image(const runtime::image::Image& image, bool pinned, v1::Image* out);

// The image's USER as kubelet wants it: a numeric uid, or a user name (never both).
struct ImageUser {
  std::optional<int64_t> uid;
  std::string username;
};
ImageUser image_user(const std::string& user);

}  // namespace vpcri::cri

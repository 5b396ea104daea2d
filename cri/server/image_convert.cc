#include "cri/server/image_convert.h"

#include <charconv>

namespace vpcri::cri {

ImageUser image_user(const std::string& user) {
  // USER is "name", "uid", "name:group" or "uid:gid"; only the user part matters here.
  std::string name = user.substr(0, user.find(':'));
  ImageUser out;
  if (name.empty()) return out;
  int64_t uid = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), uid);
  if (ec == std::errc() && ptr == name.data() + name.size()) {
    out.uid = uid;
  } else {
    out.username = name;
  }
  return out;
}

void to_cri_image(const runtime::image::Image& image, bool pinned, v1::Image* out) {
  out->set_id(image.id);
  for (const auto& tag : image.repo_tags) out->add_repo_tags(tag);
  for (const auto& digest : image.repo_digests) out->add_repo_digests(digest);
  out->set_size(image.size);
  ImageUser user = image_user(image.config.user);
  if (user.uid) out->mutable_uid()->set_value(*user.uid);
  out->set_username(user.username);
  out->mutable_spec()->set_image(image.id);
  for (const auto& [key, value] : image.config.labels) (*out->mutable_spec()->mutable_annotations())[key] = value;
  out->set_pinned(pinned);
}

}  // namespace vpcri::cri

// Fuzz target: the JSON documents a registry or an image archive hands us: index / manifest
// list, manifest, image config. Every parser must return or throw vpcri::Error, whatever the
// bytes. The first byte picks the Content-Type the transport claims.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>

#include "common/error.h"
#include "runtime/image/oci.h"

namespace image = vpcri::runtime::image;

namespace {

const char* const kContentTypes[] = {
    "", image::media_type::kOciIndex, image::media_type::kOciManifest, image::media_type::kDockerList,
    image::media_type::kDockerManifest, "application/json", "application/vnd.docker.distribution.manifest.v1+json",
};

template <typename F>
void expect_value_or_error(F&& parse) {
  try {
    parse();
  } catch (const vpcri::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const char* content_type = kContentTypes[data[0] % std::size(kContentTypes)];
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);

  expect_value_or_error([&] { image::classify_document(body, content_type, "fuzz"); });
  expect_value_or_error([&] {
    auto entries = image::parse_index(body, "fuzz index");
    image::pick_platform(entries, "linux", "amd64", "fuzz index");
  });
  std::optional<image::ManifestDoc> manifest;
  expect_value_or_error([&] { manifest = image::parse_manifest(body, "fuzz manifest"); });
  if (manifest) {
    // A manifest we accepted, written back as we write them for archives, must parse again
    // (an exception here escapes: a bug).
    auto again = image::parse_manifest(image::make_manifest(manifest->config, manifest->layers), "fuzz again");
    if (again.layers.size() != manifest->layers.size() || again.config.digest != manifest->config.digest)
      __builtin_trap();
  }
  expect_value_or_error([&] { image::parse_config(body, "fuzz config"); });
  return 0;
}

// Parsing the JSON documents of OCI and Docker v2 images: index / manifest list, manifest,
// image config; and choosing a platform from an index. Every error is Error(invalid_argument)
// naming the document and what is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/image/image_manager.h"

namespace vpcri::runtime::image {

namespace media_type {
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
}  // namespace media_type

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::string os, architecture, variant;  // index entries only
};

enum class DocumentKind { index, manifest };

// Index or manifest? From the document's own mediaType, else the transport's `content_type`,
// else its shape. Docker schema 1 and unknown types are rejected with a clear message.
DocumentKind classify_document(const std::string& body, const std::string& content_type, const std::string& what);

std::vector<Descriptor> parse_index(const std::string& body, const std::string& what);

struct ManifestDoc {
  Descriptor config;
  std::vector<Descriptor> layers;
};
ManifestDoc parse_manifest(const std::string& body, const std::string& what);

struct ParsedConfig {
  ImageConfig config;
  std::vector<std::string> diff_ids;
  std::string os, architecture, variant;
};
ParsedConfig parse_config(const std::string& body, const std::string& what);

// The index entry for os/arch; Error(not_found) listing the platforms the index has otherwise.
const Descriptor& pick_platform(const std::vector<Descriptor>& entries, const std::string& os,
                                const std::string& arch, const std::string& what);

// An OCI manifest for a config and layers (for `docker save` archives, which have none).
std::string make_manifest(const Descriptor& config, const std::vector<Descriptor>& layers);

}  // namespace vpcri::runtime::image

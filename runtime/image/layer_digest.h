// The diff id of a layer blob: sha256 of its uncompressed tar stream (OCI image spec), computed
// by decompressing (gzip, zstd or none, detected from the content) without unpacking.
#pragma once

#include <cstdint>
#include <string>

namespace vpcri::runtime::image {

// Throws Error(invalid_argument) naming the file when the blob cannot be decompressed, and
// resource_exhausted once it decompresses to more than `max_bytes` (0: no limit).
std::string uncompressed_digest(const std::string& blob_path, uint64_t max_bytes = 0);

}  // namespace vpcri::runtime::image

// The diff id of a layer blob: sha256 of its uncompressed tar stream (OCI image spec), computed
// by decompressing (gzip, zstd or none, detected from the content) without unpacking.
#pragma once

#include <string>

namespace vpcri::runtime::image {

// Throws Error(invalid_argument) naming the file when the blob cannot be decompressed.
std::string uncompressed_digest(const std::string& blob_path);

}  // namespace vpcri::runtime::image

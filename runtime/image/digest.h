// The image store's digest policy: only "sha256:<64 lowercase hex>" names blobs and snapshots
// (what every registry and image format uses), and the hex part names their files.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "runtime/registry/digest.h"

namespace vpcri::runtime::image {

// Hashing is the registry client's (one wrapper for the project); sha256 is its default.
using Sha256 = registry::DigestHasher;

std::string sha256_digest(std::string_view data);

bool is_valid_digest(std::string_view digest);

// Throws Error(invalid_argument) "<what>: invalid digest ..." unless `digest` is valid.
void check_digest(std::string_view digest, std::string_view what);

// The hex part of a valid digest (for file names).
std::string digest_hex(std::string_view digest);

// `bytes` random bytes as hex, for temporary file names.
std::string random_hex(size_t bytes);

}  // namespace vpcri::runtime::image

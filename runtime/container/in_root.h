// Paths inside a container's root filesystem, resolved by the kernel as if the root's directory
// fd were "/" (openat2 RESOLVE_IN_ROOT): an image's symlink ("etc -> /etc", "../../..") stays
// inside the root, so nothing the image holds can point a read or a mount at the host.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "common/fd.h"

namespace vpcri::runtime::container {

// openat2(rootfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS). Returns an invalid fd
// with errno set on failure.
UniqueFd open_in_root(int rootfd, const std::string& path, int flags);

// mkdir -p of `path` inside the root (every level resolved in the root, so a symlink among
// them is followed only within it). Returns an O_PATH fd of the directory. Throws vpcri::Error.
UniqueFd mkdir_in_root(int rootfd, const std::string& path, mode_t mode = 0755);

// `path` as it is when it exists (any type); else an empty regular file, created with its
// parent directories. Returns an O_PATH fd of it. Throws vpcri::Error.
UniqueFd ensure_file_in_root(int rootfd, const std::string& path);

// The content of a regular file inside the root, at most `max` bytes (more is
// Error(invalid_argument)). A missing file is Error(not_found).
std::string read_file_in_root(int rootfd, const std::string& path, size_t max);

}  // namespace vpcri::runtime::container

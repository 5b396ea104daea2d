// Path operations relative to a directory fd that can never leave it: the kernel refuses `..`
// out of the directory, every symlink and every mount crossing (openat2 RESOLVE_* flags).
// The building blocks of unpacking untrusted layers and of deleting container trees.
#pragma once

#include <string>

#include "common/fd.h"

namespace vpcri::runtime::snapshot {

// openat2(dirfd, path, flags) resolving beneath `dirfd` without following any symlink (the
// last component included), magic link or mount point. Returns an invalid fd with errno set
// on failure: ELOOP for a symlink on the way, EXDEV for an escape, ENOENT, ENOTDIR, ...
UniqueFd open_beneath(int dirfd, const std::string& path, int flags);

// Removes `name` (one path component) inside `dirfd`: a directory with all its contents, any
// other file type by unlinking it. Never follows a symlink and never crosses into a mount.
// A missing `name` is not an error. Throws vpcri::Error on failure.
void remove_tree_at(int dirfd, const std::string& name);

}  // namespace vpcri::runtime::snapshot

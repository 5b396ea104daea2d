// Whole-directory-tree operations on the image store: recursive removal and disk usage.
// Both stay on one filesystem and never follow symlinks: unpacked layers hold arbitrary
// symlinks, which must never lead a walk out of the store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vpcri::runtime::image {

// Names in directory `path` (without "." and ".."); a missing directory has none.
std::vector<std::string> list_dir(const std::string& path);

// Removes `path` and everything below it; a missing path is not an error. Throws
// Error(failed_precondition) when something is mounted below `path` (never deletes into a mount).
void remove_tree(const std::string& path);

struct TreeUsage {
  uint64_t bytes = 0;   // allocated bytes (st_blocks * 512), each inode once
  uint64_t inodes = 0;  // distinct inodes, directories included
};

// Files that vanish during the walk are skipped (the store changes while we count).
TreeUsage tree_usage(const std::string& path);

}  // namespace vpcri::runtime::image

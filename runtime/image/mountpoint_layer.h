// The mount points every container gets (/proc, /sys, /dev, /etc/hosts, /etc/hostname,
// /etc/resolv.conf) that its image lacks, made once per image in a layer of their own above the
// image's layers, as Docker's "init" layer. Without it, every container start creates them in
// its writable layer: a mkdir or create through overlayfs each, and a copy-up of /etc, which
// was most of vpcri-init's CPU time.
#pragma once

#include <string>
#include <vector>

namespace vpcri::runtime::image {

struct MountpointEntry {
  std::string path;  // relative to the image's root: "proc", "etc/hosts"
  bool directory = false;
  bool operator==(const MountpointEntry&) const = default;
};

// The mount points the image whose merged tree is the directory fd `image_root` lacks and the
// layer may add: each that does not exist, whose parent is a directory of the image reached
// without symlinks, or missing right below the root. A path with a symlink on it is left to
// vpcri-init, which resolves it inside the container's root.
std::vector<MountpointEntry> missing_mountpoints(int image_root);

// Fills the empty directory `dir` with `entries`: empty directories 0755 and files 0644 (as
// vpcri-init makes them), their parents and the layer's root with the image's mode, owner and
// times (the topmost layer's directory is what the merged tree shows), each synced.
void write_mountpoint_layer(int image_root, const std::vector<MountpointEntry>& entries, const std::string& dir);

}  // namespace vpcri::runtime::image

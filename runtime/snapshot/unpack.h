// Unpacking one OCI image layer (a tar, gzip- or zstd-compressed or not) into a snapshot
// directory, converting OCI whiteouts to overlayfs whiteouts. Owned by the snapshot component.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace vpcri::runtime::snapshot {

struct UnpackStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;  // regular-file bytes written
};

// Caps on what layers decompress to, so a compression bomb cannot fill the node's disk. Counted
// over the uncompressed tar stream (headers included: a flood of empty files counts too).
struct UnpackLimits {
  uint64_t max_layer_bytes = 0;  // this layer; 0: no cap
  // Shared by the layers one pull unpacks (in parallel): their streams together.
  std::atomic<uint64_t>* image_bytes = nullptr;
  uint64_t max_image_bytes = 0;  // 0: no cap
};

// Unpacks the layer at `archive_path` into the existing, empty directory `target_dir`.
// Compression is detected from the content. Ownership, modes, xattrs, hardlinks, symlinks and
// device nodes are preserved. OCI whiteouts become overlay whiteouts: `.wh.NAME` -> a 0:0 char
// device NAME, `.wh..wh..opq` -> the directory gets trusted.overlay.opaque=y.
// Nothing outside `target_dir` is ever created or changed, whatever the archive holds
// (`..`, absolute paths, symlinks out of the tree followed by writes, hardlinks to outside):
// such entries throw vpcri::Error(invalid_argument) naming the entry.
//
// In detail (every path is resolved by the kernel beneath `target_dir`, openat2 RESOLVE_BENEATH):
//  - a leading "/" is dropped, as GNU tar does: "/etc/x" lands in `target_dir`/etc/x;
//  - any ".." component, in an entry name or a hardlink target, is refused;
//  - an entry or hardlink target whose path goes through a symlink is refused, wherever the
//    symlink points (a layer diff never lists files below a symlink);
//  - a symlink itself may point anywhere (it is only followed inside the container's root);
//    a later entry of the same name replaces the symlink, it never writes through it;
//  - a whiteout naming "", "." or ".." is refused; aufs metadata (.wh..wh.*) is skipped;
//  - xattrs of overlayfs itself (trusted.overlay.*, user.overlay.*) in the archive are ignored.
//    Symlinks get owner and times but no xattrs.
// Only gzip, zstd and uncompressed tar (ustar, pax, GNU) are read; an empty file is an empty
// layer. Numeric uid/gid are used, user and group names ignored.
//
// `target_dir` must exist and be empty (failed_precondition otherwise). Directory mtimes are set
// after the whole layer; the filesystem is synced (syncfs) before returning. On an error the
// target is left partly filled: the caller deletes it. Other errors: not_found for a missing
// archive, invalid_argument for a corrupt one, the kernel's error for a failing filesystem,
// resource_exhausted (naming the limit) as soon as a cap of `limits` is passed.
UnpackStats unpack_layer(const std::string& archive_path, const std::string& target_dir,
                         const UnpackLimits& limits = {});

// Throws resource_exhausted when `layer_bytes` (this layer's total so far) passes the layer cap,
// or adding `delta` (its growth since the last call) to limits.image_bytes passes the image cap.
void check_unpack_limits(const UnpackLimits& limits, const std::string& layer, uint64_t layer_bytes, uint64_t delta);

}  // namespace vpcri::runtime::snapshot

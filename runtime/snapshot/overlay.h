// A container's root filesystem: an overlay mount of the image's unpacked layers (read-only
// lowers) under a writable upper directory that belongs to the container.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/fd.h"

namespace vpcri::runtime::snapshot {

constexpr size_t kMaxOverlayLayers = 500;  // overlayfs' OVL_MAX_STACK

// How the overlay is mounted. `automatic` uses the mount API with one "lowerdir+" per layer
// (kernel 6.8+: no limit on the number of layers but overlay's own 500) and falls back to
// `legacy_options` on older kernels: one mount(2) option string, which must fit in a page.
enum class OverlayMountApi { automatic, legacy_options };

// Whether the upper filesystem is flushed for the overlay. `durable` (the kernel's default): every
// unmount syncs the whole filesystem the upper lives on (syncfs of <root>'s filesystem, milliseconds
// with other writers around) and fsync inside reaches the disk. `volatile_upper` (overlay's
// "volatile", Linux 5.10+; ignored on older kernels): neither; for an upper that is never used again
// after a reboot, such as a container's writable layer (a rebooted node's pods get new containers).
// The kernel refuses to mount a used volatile upper again (its workdir keeps an incompat/volatile
// marker), so such an overlay is mounted once.
enum class UpperSync { durable, volatile_upper };

// Owns one overlay mount at `target` while it lives (RAII), unless release()d.
// The upper and work directories live in `<container_dir>/overlay/` (created here; the upper
// is kept across remounts, so a container's changes survive a crash of this daemon).
class RootfsOverlay {
 public:
  // `layers`: unpacked layer directories, lowest layer first (Image::layer_paths). One layer
  // or none at all is fine (none: an empty directory stands in for the image). `target` is
  // created if missing. Throws vpcri::Error: invalid_argument for a bad layer list, otherwise
  // what the kernel said (its mount log included when it gave one).
  RootfsOverlay(const std::vector<std::string>& layers, std::string container_dir, std::string target,
                OverlayMountApi api = OverlayMountApi::automatic, UpperSync sync = UpperSync::durable);
  ~RootfsOverlay();  // remove() unless released; errors are logged, never thrown
  RootfsOverlay(RootfsOverlay&& other) noexcept;
  RootfsOverlay& operator=(RootfsOverlay&& other) noexcept;
  RootfsOverlay(const RootfsOverlay&) = delete;
  RootfsOverlay& operator=(const RootfsOverlay&) = delete;

  const std::string& target() const { return target_; }
  std::string upper_dir() const;  // where the container's writes land

  // Unmounts the overlay and deletes `<container_dir>/overlay/` (the container's changes) and
  // the then-empty `target`. Idempotent. Throws vpcri::Error on failure.
  void remove();
  // Lets the mount outlive this object (e.g. a created container now owns it); tear it down
  // later with remove_rootfs_overlay().
  void release() { owned_ = false; }

 private:
  std::string container_dir_;
  std::string target_;
  bool owned_ = true;
};

// The image's merged tree, read-only, as a directory fd of a detached overlay mount (never
// attached anywhere: it goes away with the fd, so a crash leaves no mount). One layer: that
// directory. An invalid fd when there is no layer or the kernel predates overlay's
// "lowerdir+" (6.8). Throws vpcri::Error when the kernel refuses the layers.
UniqueFd open_layers_view(const std::vector<std::string>& layers);

// Unmounts everything mounted at `target` (stacked mounts too; a busy mount is detached).
// Nothing mounted, or no `target` at all, is fine: safe to call after a crash, repeatedly.
void unmount_all(const std::string& target);

// What RootfsOverlay::remove() does, for an overlay mounted before a crash or released:
// unmount_all(target), delete `<container_dir>/overlay/` and the empty `target`. Idempotent.
void remove_rootfs_overlay(const std::string& container_dir, const std::string& target);

}  // namespace vpcri::runtime::snapshot

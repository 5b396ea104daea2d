#include "runtime/snapshot/overlay.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/error.h"
#include "common/fd.h"
#include "common/fs.h"
#include "common/log.h"
#include "runtime/snapshot/fs_at.h"

namespace vpcri::runtime::snapshot {
namespace {

constexpr const char* kOverlayDir = "overlay";

struct OverlayDirs {
  std::string upper;
  std::string work;
  std::string empty_lower;  // the stand-in lower of an image without layers
};

OverlayDirs overlay_dirs(const std::string& container_dir) {
  std::string base = container_dir + "/" + kOverlayDir;
  return {base + "/upper", base + "/work", base + "/empty"};
}

// Creates `path` (its parent must exist) with exactly `mode`, despite the umask. An existing
// directory is left alone: after a crash the upper keeps what the container did to it.
void make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) {
    if (errno == EEXIST) return;
    throw_errno("mkdir " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) throw_errno("chmod " + path);
}

// Everything the kernel logged on the fs context (fsopen fd): "e overlayfs: ..." lines.
std::string kernel_log(int fs_fd) {
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fs_fd, buf, sizeof buf - 1);
    if (n <= 0) break;
    if (!out.empty()) out += "; ";
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

[[noreturn]] void throw_mount_error(const std::string& what, int err, const std::string& log) {
  try {
    throw_errno(what, err);
  } catch (const Error& e) {
    if (log.empty()) throw;
    throw Error(e.code(), std::string(e.what()) + " (kernel: " + log + ")");
  }
}

// Whether the running kernel is at least major.minor. Overlay features cannot be probed
// reliably: before 6.5 overlay accepts any key in fsconfig and fails only when creating the mount.
bool kernel_at_least(int want_major, int want_minor) {
  utsname uts{};
  int major = 0;
  int minor = 0;
  if (::uname(&uts) != 0 || std::sscanf(uts.release, "%d.%d", &major, &minor) != 2) return false;
  return major > want_major || (major == want_major && minor >= want_minor);
}

// overlay's "lowerdir+" came with Linux 6.8, "volatile" with 5.10.
bool kernel_has_lowerdir_plus() { return kernel_at_least(6, 8); }
bool use_volatile(UpperSync sync) { return sync == UpperSync::volatile_upper && kernel_at_least(5, 10); }

// An overlay filesystem context with these lower layers, through the mount API: one fsconfig
// call per layer, so no option string limit. Invalid when the kernel predates "lowerdir+" or
// the mount API itself.
UniqueFd overlay_context(const std::vector<std::string>& lowers_highest_first) {
  if (!kernel_has_lowerdir_plus()) return UniqueFd();
  UniqueFd fs_fd(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs_fd) {
    if (errno == ENOSYS) return UniqueFd();
    throw_errno("fsopen overlay");
  }
  for (size_t i = 0; i < lowers_highest_first.size(); ++i) {
    if (::fsconfig(fs_fd.get(), FSCONFIG_SET_STRING, "lowerdir+", lowers_highest_first[i].c_str(), 0) == 0) continue;
    int err = errno;
    std::string log = kernel_log(fs_fd.get());
    if (i == 0 && err == EINVAL && log.find("lowerdir+") != std::string::npos) {
      return UniqueFd();  // "Unknown parameter 'lowerdir+'": a kernel that lacks it after all
    }
    throw_mount_error("overlay lower layer " + lowers_highest_first[i], err, log);
  }
  return fs_fd;
}

// The detached mount of a configured context; `what` names it in errors ("overlay for /x").
UniqueFd create_mount(int fs_fd, unsigned attributes, const std::string& what) {
  if (::fsconfig(fs_fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    int err = errno;
    throw_mount_error("create " + what, err, kernel_log(fs_fd));
  }
  UniqueFd mnt(::fsmount(fs_fd, FSMOUNT_CLOEXEC, attributes));
  if (!mnt) throw_errno("fsmount " + what);
  return mnt;
}

// The container's overlay through the mount API. Returns false (nothing mounted) when the
// kernel cannot (overlay_context).
bool mount_with_fsconfig(const std::vector<std::string>& lowers_highest_first, const OverlayDirs& dirs,
                         const std::string& target, UpperSync sync) {
  UniqueFd fs_fd = overlay_context(lowers_highest_first);
  if (!fs_fd) return false;
  auto set = [&](const char* key, const std::string& value) {
    if (::fsconfig(fs_fd.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) == 0) return;
    int err = errno;
    throw_mount_error("overlay option " + std::string(key) + "=" + value, err, kernel_log(fs_fd.get()));
  };
  set("source", "overlay");  // what mountinfo shows as the device
  set("upperdir", dirs.upper);
  set("workdir", dirs.work);
  // index=off: with the index on, an upper is tied to the exact lower layers it was first
  // mounted with, and re-mounting after an image change fails; containerd and Docker do the same.
  set("index", "off");
  if (use_volatile(sync) && ::fsconfig(fs_fd.get(), FSCONFIG_SET_FLAG, "volatile", nullptr, 0) != 0) {
    int err = errno;
    throw_mount_error("overlay option volatile", err, kernel_log(fs_fd.get()));
  }
  UniqueFd mnt = create_mount(fs_fd.get(), 0, "overlay for " + target);
  if (::move_mount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    throw_errno("attach overlay at " + target);
  }
  return true;
}

bool plain_for_options(const std::string& path) { return path.find_first_of(",:\\") == std::string::npos; }

// mount(2) with "lowerdir=a:b,upperdir=...,workdir=...": the whole string must fit in a page.
// When the real paths do not fit (or hold the separators ',' ':' '\'), each directory is
// named by a short /proc/self/fd/N path of an fd held open across the mount call.
void mount_with_options(const std::vector<std::string>& lowers_highest_first, const OverlayDirs& dirs,
                        const std::string& target, UpperSync sync) {
  auto options_for = [&](const std::vector<std::string>& lowers, const std::string& upper, const std::string& work) {
    std::string opts = "lowerdir=";
    for (size_t i = 0; i < lowers.size(); ++i) opts += (i > 0 ? ":" : "") + lowers[i];
    return opts + ",upperdir=" + upper + ",workdir=" + work + ",index=off" + (use_volatile(sync) ? ",volatile" : "");
  };
  const size_t limit = static_cast<size_t>(::sysconf(_SC_PAGESIZE)) - 1;  // with the NUL

  std::string opts = options_for(lowers_highest_first, dirs.upper, dirs.work);
  bool plain = plain_for_options(dirs.upper) && plain_for_options(dirs.work);
  for (const auto& lower : lowers_highest_first) plain = plain && plain_for_options(lower);

  std::vector<UniqueFd> held;
  if (!plain || opts.size() > limit) {
    auto fd_path = [&](const std::string& dir) {
      UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!fd) throw_errno("open overlay directory " + dir);
      std::string path = "/proc/self/fd/" + std::to_string(fd.get());
      held.push_back(std::move(fd));
      return path;
    };
    std::vector<std::string> short_lowers;
    for (const auto& lower : lowers_highest_first) short_lowers.push_back(fd_path(lower));
    std::string upper = fd_path(dirs.upper);
    opts = options_for(short_lowers, upper, fd_path(dirs.work));
    if (opts.size() > limit) {
      throw Error(Errc::invalid_argument, "overlay for " + target + ": " + std::to_string(lowers_highest_first.size()) +
                                              " layers do not fit in one mount option string on this kernel; "
                                              "kernel 6.8+ (overlay \"lowerdir+\") mounts up to 500");
    }
  }
  if (::mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) != 0) {
    throw_errno("mount overlay at " + target + " (" + std::to_string(lowers_highest_first.size()) + " layers)");
  }
}

void check_layers(const std::vector<std::string>& layers, const std::string& target) {
  if (layers.size() > kMaxOverlayLayers) {
    throw Error(Errc::invalid_argument, "overlay for " + target + ": " + std::to_string(layers.size()) +
                                            " layers, overlayfs stacks at most " + std::to_string(kMaxOverlayLayers));
  }
  for (const auto& layer : layers) {
    struct stat st{};
    if (layer.empty() || layer[0] != '/') {
      throw Error(Errc::invalid_argument, "overlay for " + target + ": layer path \"" + layer + "\" is not absolute");
    }
    if (::stat(layer.c_str(), &st) != 0) throw_errno("overlay for " + target + ": layer " + layer);
    if (!S_ISDIR(st.st_mode)) {
      throw Error(Errc::invalid_argument, "overlay for " + target + ": layer " + layer + " is not a directory");
    }
  }
}

}  // namespace

UniqueFd open_layers_view(const std::vector<std::string>& layers) {
  if (layers.empty()) return UniqueFd();
  if (layers.size() == 1) {
    UniqueFd dir(::open(layers[0].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_errno("open layer " + layers[0]);
    return dir;
  }
  check_layers(layers, "a view of the image");
  UniqueFd fs_fd = overlay_context(std::vector<std::string>(layers.rbegin(), layers.rend()));
  if (!fs_fd) return UniqueFd();
  return create_mount(fs_fd.get(), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                      "an overlay view of the image");
}

RootfsOverlay::RootfsOverlay(const std::vector<std::string>& layers, std::string container_dir, std::string target,
                             OverlayMountApi api, UpperSync sync)
    : container_dir_(std::move(container_dir)), target_(std::move(target)) {
  check_layers(layers, target_);
  OverlayDirs dirs = overlay_dirs(container_dir_);
  // 0700 above the upper: host users must not reach the container's files (setuid binaries).
  fs::mkdir_p(container_dir_, 0700);
  make_dir(container_dir_ + "/" + kOverlayDir, 0700);
  make_dir(dirs.upper, 0755);  // the upper's root is the container's "/": its mode shows
  make_dir(dirs.work, 0700);
  fs::mkdir_p(target_, 0755);
  // A second overlay over a leftover one would stack silently and share its upper.
  struct statx stx{};
  if (::statx(AT_FDCWD, target_.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0) {
    throw_errno("stat rootfs mount point " + target_);
  }
  if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
    throw Error(Errc::already_exists, "rootfs " + target_ + " is already a mount point (left over from a crash? "
                                      "unmount_all() or remove_rootfs_overlay() it first)");
  }

  std::vector<std::string> lowers(layers.rbegin(), layers.rend());  // overlay wants highest first
  if (lowers.empty()) {
    make_dir(dirs.empty_lower, 0755);
    lowers.push_back(dirs.empty_lower);
  }
  bool mounted = api == OverlayMountApi::automatic && mount_with_fsconfig(lowers, dirs, target_, sync);
  if (!mounted) mount_with_options(lowers, dirs, target_, sync);
  log::debug("mounted rootfs overlay", {{"target", target_}, {"layers", std::to_string(layers.size())}});
}

RootfsOverlay::~RootfsOverlay() {
  if (!owned_) return;
  try {
    remove();
  } catch (const std::exception& e) {
    log::error("cannot remove rootfs overlay", {{"target", target_}, {"error", e.what()}});
  }
}

RootfsOverlay::RootfsOverlay(RootfsOverlay&& other) noexcept
    : container_dir_(std::move(other.container_dir_)),
      target_(std::move(other.target_)),
      owned_(std::exchange(other.owned_, false)) {}

RootfsOverlay& RootfsOverlay::operator=(RootfsOverlay&& other) noexcept {
  if (this != &other) {
    if (owned_) {
      try {
        remove();
      } catch (const std::exception& e) {
        log::error("cannot remove rootfs overlay", {{"target", target_}, {"error", e.what()}});
      }
    }
    container_dir_ = std::move(other.container_dir_);
    target_ = std::move(other.target_);
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

std::string RootfsOverlay::upper_dir() const { return overlay_dirs(container_dir_).upper; }

void RootfsOverlay::remove() {
  remove_rootfs_overlay(container_dir_, target_);
  owned_ = false;
}

void unmount_all(const std::string& target) {
  // Each umount2 takes the topmost mount; loop until the path is no mount point (EINVAL).
  for (int i = 0; i < 1000; ++i) {
    if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) return;
    if (errno == EBUSY) {
      // Something still uses the rootfs (a straggling process): detach it now, the kernel
      // frees it when the last user goes.
      if (::umount2(target.c_str(), UMOUNT_NOFOLLOW | MNT_DETACH) == 0) continue;
    }
    throw_errno("unmount " + target);
  }
  throw Error(Errc::internal, "unmount " + target + ": still mounted after 1000 unmounts");
}

void remove_rootfs_overlay(const std::string& container_dir, const std::string& target) {
  unmount_all(target);
  UniqueFd dir(::open(container_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) {
    // fd-relative and symlink-proof: the upper holds whatever the container wrote.
    remove_tree_at(dir.get(), kOverlayDir);
  } else if (errno != ENOENT) {
    throw_errno("open container directory " + container_dir);
  }
  if (::rmdir(target.c_str()) != 0 && errno != ENOENT) {
    // Not ours to delete if something else lives there; the mount is gone, which is what matters.
    log::warn("rootfs mount point not removed", {{"target", target}, {"error", std::strerror(errno)}});
  }
}

}  // namespace vpcri::runtime::snapshot

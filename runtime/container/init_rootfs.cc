#include "runtime/container/init_rootfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "common/error.h"
#include "runtime/container/cgroupfs_layout.h"
#include "runtime/container/in_root.h"
#include "runtime/container/init_error.h"

namespace vpcri::runtime::container {
namespace {

// mount(2) onto what `fd` (an O_PATH fd) is: the kernel follows /proc/self/fd/N to that exact
// inode, so the target is the one resolved safely, not a path that could be swapped since.
void mount_on(int fd, const char* source, const char* fstype, unsigned long flags, const char* data,
              const std::string& what) {
  std::string target = "/proc/self/fd/" + std::to_string(fd);
  if (::mount(source, target.c_str(), fstype, flags, data) != 0) init_failed("mount " + what);
}

// A directory (or file) inside the rootfs, created if missing; errors name the mount.
UniqueFd dir_in(int root, const std::string& path, const std::string& what) {
  try {
    return mkdir_in_root(root, path);
  } catch (const Error& e) {
    throw InitError(EINVAL, "mount " + what + ": " + e.what());
  }
}

UniqueFd file_in(int root, const std::string& path, const std::string& what) {
  try {
    return ensure_file_in_root(root, path);
  } catch (const Error& e) {
    throw InitError(EINVAL, "mount " + what + ": " + e.what());
  }
}

// Read-only and/or propagation of the mount now at `path` (resolved in the root again, so the
// fd is the new mount's root, not the directory under it).
void set_attributes(int root, const std::string& path, bool readonly, uint64_t propagation, bool recursive,
                    const std::string& what) {
  UniqueFd fd = open_in_root(root, path, O_PATH);
  if (!fd) init_failed("mount " + what + ": reopen");
  mount_attr attr{};
  if (readonly) attr.attr_set = MOUNT_ATTR_RDONLY;
  attr.propagation = propagation;
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0U);
  if (::mount_setattr(fd.get(), "", flags, &attr, sizeof attr) != 0) {
    init_failed(std::string(readonly ? "remount read-only " : "set propagation of ") + what);
  }
}

void bind_device(int root, const std::string& host_path, const std::string& path) {
  UniqueFd fd = file_in(root, path, path);
  mount_on(fd.get(), host_path.c_str(), nullptr, MS_BIND, nullptr, path);
}

// Privileged containers see the host's devices (not its /dev/pts, /dev/shm, /dev/mqueue).
void bind_host_devices(int root) {
  namespace stdfs = std::filesystem;
  std::error_code ec;
  stdfs::recursive_directory_iterator it("/dev", stdfs::directory_options::skip_permission_denied, ec);
  if (ec) throw InitError(ec.value(), "list the host's /dev: " + ec.message());
  for (; it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw InitError(ec.value(), "list the host's /dev: " + ec.message());
    const std::string path = it->path().string();
    auto status = it->symlink_status(ec);
    if (ec) continue;  // gone meanwhile
    if (stdfs::is_directory(status)) {
      if (path == "/dev/pts" || path == "/dev/shm" || path == "/dev/mqueue") it.disable_recursion_pending();
      continue;
    }
    if ((stdfs::is_character_file(status) || stdfs::is_block_file(status)) && path != "/dev/ptmx") {
      bind_device(root, path, path);
    }
  }
}

std::pair<std::string, std::string> split_parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// A device the container asked for: a node of its own (the cgroup decides what it may do with
// it), or the host's node bound in when privileged.
void create_device(int root, const DeviceNode& d, bool privileged) {
  if (privileged) {
    bind_device(root, d.host_path, d.path);
    return;
  }
  auto [parent, name] = split_parent(d.path);
  if (name.empty() || name == "." || name == "..") throw InitError(EINVAL, "device " + d.path + ": not a file name");
  dir_in(root, parent, "device " + d.path);                                 // mkdir -p
  UniqueFd real_dir = open_in_root(root, parent, O_RDONLY | O_DIRECTORY);  // mknodat needs a real directory fd
  if (!real_dir) init_failed("device " + d.path + ": open " + parent);
  if (::unlinkat(real_dir.get(), name.c_str(), 0) != 0 && errno != ENOENT) init_failed("device " + d.path + ": replace");
  mode_t type = d.type == 'b' ? S_IFBLK : S_IFCHR;
  if (::mknodat(real_dir.get(), name.c_str(), type | (d.mode & 07777), makedev(d.major, d.minor)) != 0) {
    init_failed("mknod device " + d.path);
  }
  // mknod's mode went through the umask; ownership and mode as on the host.
  if (::fchownat(real_dir.get(), name.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) != 0) init_failed("chown device " + d.path);
  if (::fchmodat(real_dir.get(), name.c_str(), d.mode & 07777, 0) != 0) init_failed("chmod device " + d.path);
}

void dev_symlink(int dev, const char* target, const char* name) {
  if (::symlinkat(target, dev, name) != 0 && errno != EEXIST) init_failed(std::string("symlink /dev/") + name);
}

void setup_dev(int root, const InitSpec& spec) {
  UniqueFd fd = dir_in(root, "/dev", "/dev");
  mount_on(fd.get(), "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", "/dev");
  if (spec.privileged) {
    bind_host_devices(root);
  } else {
    // runc's default nodes, made as runc makes them (0666, root). Never the host's nodes bound
    // in: a chmod, chown or touch by the container's root would change those.
    static const DeviceNode kStandard[] = {{"", "/dev/null", 'c', 1, 3, 0666, 0, 0},
                                           {"", "/dev/zero", 'c', 1, 5, 0666, 0, 0},
                                           {"", "/dev/full", 'c', 1, 7, 0666, 0, 0},
                                           {"", "/dev/random", 'c', 1, 8, 0666, 0, 0},
                                           {"", "/dev/urandom", 'c', 1, 9, 0666, 0, 0},
                                           {"", "/dev/tty", 'c', 5, 0, 0666, 0, 0}};
    for (const DeviceNode& d : kStandard) create_device(root, d, false);
  }
  for (const DeviceNode& d : spec.devices) create_device(root, d, spec.privileged);
  fd = dir_in(root, "/dev/pts", "/dev/pts");
  mount_on(fd.get(), "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5",
           "/dev/pts");
  fd = dir_in(root, "/dev/mqueue", "/dev/mqueue");
  mount_on(fd.get(), "mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr, "/dev/mqueue");
  bool shm_given = std::any_of(spec.mounts.begin(), spec.mounts.end(),
                               [](const BindMount& m) { return m.destination == "/dev/shm"; });
  if (!shm_given) {
    fd = dir_in(root, "/dev/shm", "/dev/shm");
    mount_on(fd.get(), "shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k", "/dev/shm");
  }
  UniqueFd dev = open_in_root(root, "/dev", O_RDONLY | O_DIRECTORY);
  if (!dev) init_failed("open /dev");
  dev_symlink(dev.get(), "pts/ptmx", "ptmx");
  dev_symlink(dev.get(), "/proc/self/fd", "fd");
  dev_symlink(dev.get(), "/proc/self/fd/0", "stdin");
  dev_symlink(dev.get(), "/proc/self/fd/1", "stdout");
  dev_symlink(dev.get(), "/proc/self/fd/2", "stderr");
  dev_symlink(dev.get(), "/proc/kcore", "core");
}

void setup_sys(int root, const InitSpec& spec) {
  UniqueFd fd = dir_in(root, "/sys", "/sys");
  unsigned long ro = spec.privileged ? 0 : MS_RDONLY;
  std::string target = "/proc/self/fd/" + std::to_string(fd.get());
  if (::mount("sysfs", target.c_str(), "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | ro, nullptr) == 0) return;
  // In the host's network namespace, sysfs may refuse a new instance: the host's /sys then.
  if (spec.net.mode != NamespaceSpec::Mode::host) init_failed("mount /sys");
  mount_on(fd.get(), "/sys", nullptr, MS_BIND | MS_REC, nullptr, "/sys");
  if (!spec.privileged) set_attributes(root, "/sys", true, 0, true, "/sys");
}

// The container's /sys/fs/cgroup in its private cgroup namespace, laid out as the host's: a
// cgroup2 mount (unified), or a tmpfs holding each v1 hierarchy (and hybrid's cgroup2) at the
// host's place. Each mount shows the container's own cgroup as its root. Read-only unless
// privileged, so a container cannot change its own limits.
void setup_cgroupfs(int root, const InitSpec& spec) {
  CgroupfsLayout read_here;
  if (!spec.cgroupfs) {  // a spec without vpcrid's copy of the layout
    try {
      read_here = read_cgroupfs_layout();
    } catch (const Error& e) {
      throw InitError(EIO, std::string("mount /sys/fs/cgroup: ") + e.what());
    }
  }
  const CgroupfsLayout& layout = spec.cgroupfs ? *spec.cgroupfs : read_here;
  if (layout.mounts.empty()) return;  // the host mounts no cgroupfs there: nothing to mirror
  const unsigned long flags = MS_NOSUID | MS_NOEXEC | MS_NODEV;
  UniqueFd fd = dir_in(root, kCgroupfsRoot, kCgroupfsRoot);
  if (layout.unified()) {
    mount_on(fd.get(), "cgroup", "cgroup2", flags, nullptr, "/sys/fs/cgroup (cgroup2)");
  } else {
    mount_on(fd.get(), "tmpfs", "tmpfs", flags, "mode=755,size=64k", kCgroupfsRoot);
    for (const CgroupfsMount& m : layout.mounts) {
      if (m.mountpoint == kCgroupfsRoot) continue;
      UniqueFd dir = dir_in(root, m.mountpoint, m.mountpoint);
      mount_on(dir.get(), "cgroup", m.fstype.c_str(), flags, m.data.empty() ? nullptr : m.data.c_str(), m.mountpoint);
    }
    // Co-mounted hierarchies ("cpu,cpuacct") are reached through the host's symlinks ("cpu").
    UniqueFd inside = open_in_root(root, kCgroupfsRoot, O_RDONLY | O_DIRECTORY);
    if (!inside) init_failed("open /sys/fs/cgroup");
    for (const CgroupfsSymlink& link : layout.symlinks) {
      if (::symlinkat(link.target.c_str(), inside.get(), link.name.c_str()) != 0 && errno != EEXIST) {
        init_failed("symlink /sys/fs/cgroup/" + link.name);
      }
    }
  }
  if (!spec.privileged) set_attributes(root, kCgroupfsRoot, true, 0, true, "/sys/fs/cgroup");
}

uint64_t propagation_flag(Propagation p) {
  switch (p) {
    case Propagation::private_: return MS_PRIVATE;
    case Propagation::rslave: return MS_SLAVE;
    case Propagation::rshared: return MS_SHARED;
  }
  return MS_PRIVATE;
}

// A detached copy of the source's mount tree made while this namespace's mounts are still the
// host's peers (before / turns rslave): attached later, it stays in the host's peer groups, so
// mounts made under it on either side reach the other (CRI PROPAGATION_BIDIRECTIONAL). Only
// these volumes propagate back to the host, never the rest of the container's mounts (runc
// instead makes the container's whole root rshared).
UniqueFd clone_shared_source(const BindMount& m) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (m.recursive ? AT_RECURSIVE : 0U);
  UniqueFd tree(static_cast<int>(::open_tree(AT_FDCWD, m.source.c_str(), flags)));
  if (!tree) init_failed("mount " + m.source + " on " + m.destination + ": clone the shared source");
  return tree;
}

// `shared_tree`: the source's clone from clone_shared_source, or empty for a plain bind.
void bind_mount(int root, const BindMount& m, const UniqueFd& shared_tree) {
  std::string what = m.source + " on " + m.destination;
  struct stat st{};
  if (::stat(m.source.c_str(), &st) != 0) init_failed("mount " + what);
  UniqueFd fd = S_ISDIR(st.st_mode) ? dir_in(root, m.destination, what) : file_in(root, m.destination, what);
  if (shared_tree) {
    if (::move_mount(shared_tree.get(), "", fd.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
      init_failed("mount " + what);
    }
  } else {
    unsigned long flags = m.recursive ? MS_BIND | MS_REC : MS_BIND;
    mount_on(fd.get(), m.source.c_str(), nullptr, flags, nullptr, what);
  }
  set_attributes(root, m.destination, m.readonly, propagation_flag(m.propagation), m.recursive, what);
}

// Opens a path inside the (pivoted) container without following a final symlink; nullopt-like
// invalid fd when it does not exist.
UniqueFd open_existing(const std::string& path, const std::string& what) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd && errno != ENOENT) init_failed(what + " " + path);
  return fd;
}

}  // namespace

void setup_rootfs(const InitSpec& spec) {
  std::vector<UniqueFd> shared_trees;
  for (const BindMount& m : spec.mounts) {
    shared_trees.push_back(m.propagation == Propagation::rshared ? clone_shared_source(m) : UniqueFd());
  }
  // Nothing mounted from here on may propagate back to the host (but the bidirectional volumes
  // cloned above); the host's mounts still reach us.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) init_failed("make / rslave");
  // pivot_root needs the new root to be a mount point of its own in this namespace.
  if (::mount(spec.rootfs.c_str(), spec.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    init_failed("bind the rootfs " + spec.rootfs);
  }
  UniqueFd root(::open(spec.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) init_failed("open the rootfs " + spec.rootfs);

  UniqueFd proc = dir_in(root.get(), "/proc", "/proc");
  mount_on(proc.get(), "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr, "/proc");
  setup_sys(root.get(), spec);
  if (spec.cgroup.mode != NamespaceSpec::Mode::host) setup_cgroupfs(root.get(), spec);
  setup_dev(root.get(), spec);
  for (size_t i = 0; i < spec.mounts.size(); ++i) bind_mount(root.get(), spec.mounts[i], shared_trees[i]);
  try {
    mkdir_in_root(root.get(), spec.process.cwd);
  } catch (const Error& e) {
    throw InitError(EINVAL, "create the working directory " + spec.process.cwd + ": " + e.what());
  }

  // pivot_root(".", ".") stacks the old root under the new one; detaching "." then drops it.
  if (::fchdir(root.get()) != 0) init_failed("chdir to the rootfs");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) init_failed("pivot_root " + spec.rootfs);
  if (::umount2(".", MNT_DETACH) != 0) init_failed("detach the old root");
  if (::chdir("/") != 0) init_failed("chdir /");
}

void finish_rootfs(const InitSpec& spec) {
  if (!spec.privileged) {
    for (const std::string& path : spec.masked_paths) {
      UniqueFd fd = open_existing(path, "mask");
      if (!fd) continue;
      struct stat st{};
      if (::fstat(fd.get(), &st) != 0) init_failed("mask " + path);
      if (S_ISDIR(st.st_mode)) {
        mount_on(fd.get(), "tmpfs", "tmpfs", MS_RDONLY, "size=0", path + " (mask)");
      } else {
        mount_on(fd.get(), "/dev/null", nullptr, MS_BIND, nullptr, path + " (mask)");
      }
    }
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) init_failed("open /");
    for (const std::string& path : spec.readonly_paths) {
      UniqueFd fd = open_existing(path, "make read-only");
      if (!fd) continue;
      std::string self = "/proc/self/fd/" + std::to_string(fd.get());
      if (::mount(self.c_str(), self.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        init_failed("bind " + path + " (read-only path)");
      }
      set_attributes(root.get(), path, true, 0, true, path);
    }
  }
  if (spec.readonly_rootfs) {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) != 0) init_failed("remount / read-only");
  }
}

}  // namespace vpcri::runtime::container

#include "runtime/image/mountpoint_layer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "common/error.h"
#include "common/fd.h"
#include "runtime/snapshot/fs_at.h"

namespace vpcri::runtime::image {
namespace {

constexpr MountpointEntry kMountpoints[] = {{"proc", true},       {"sys", true},           {"dev", true},
                                            {"etc/hosts", false}, {"etc/hostname", false}, {"etc/resolv.conf", false}};

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

void sync_fd(int fd, const std::string& what) {
  if (::fsync(fd) != 0) throw_errno("fsync " + what);
}

// `fd`'s mode, owner and times become those of `like` (a stat of the image's directory).
void copy_attributes(int fd, const struct stat& like, const std::string& what) {
  if (::fchown(fd, like.st_uid, like.st_gid) != 0) throw_errno("chown " + what);
  if (::fchmod(fd, like.st_mode & 07777) != 0) throw_errno("chmod " + what);
  const timespec times[2] = {like.st_atim, like.st_mtim};
  if (::futimens(fd, times) != 0) throw_errno("set the times of " + what);
}

}  // namespace

std::vector<MountpointEntry> missing_mountpoints(int image_root) {
  std::vector<MountpointEntry> out;
  for (const MountpointEntry& m : kMountpoints) {
    // There (a symlink on the way fails with ELOOP, the last one included).
    if (snapshot::open_beneath(image_root, m.path, O_PATH)) continue;
    if (errno != ENOENT) continue;
    const std::string parent = parent_of(m.path);
    const bool parent_is_dir = static_cast<bool>(snapshot::open_beneath(image_root, parent, O_PATH | O_DIRECTORY));
    // A missing parent right below the root (no /etc) is made as vpcri-init would make it.
    if (parent_is_dir || (errno == ENOENT && parent.find('/') == std::string::npos)) out.push_back(m);
  }
  return out;
}

void write_mountpoint_layer(int image_root, const std::vector<MountpointEntry>& entries, const std::string& dir) {
  UniqueFd layer(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!layer) throw_errno("open " + dir);
  std::map<std::string, UniqueFd> parents;  // "etc": its directory in the layer
  auto parent_in_layer = [&](const std::string& parent) {
    if (parent.empty()) return layer.get();
    auto it = parents.find(parent);
    if (it == parents.end()) {
      if (::mkdirat(layer.get(), parent.c_str(), 0755) != 0) throw_errno("mkdir " + dir + "/" + parent);
      UniqueFd fd(::openat(layer.get(), parent.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) throw_errno("open " + dir + "/" + parent);
      it = parents.emplace(parent, std::move(fd)).first;
    }
    return it->second.get();
  };
  for (const MountpointEntry& m : entries) {
    const std::string parent = parent_of(m.path);
    const int parent_fd = parent_in_layer(parent);
    const std::string name = m.path.substr(parent.empty() ? 0 : parent.size() + 1);
    const std::string what = dir + "/" + m.path;
    if (m.directory) {
      if (::mkdirat(parent_fd, name.c_str(), 0755) != 0) throw_errno("mkdir " + what);
      UniqueFd made(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!made || ::fchmod(made.get(), 0755) != 0) throw_errno("chmod " + what);
      sync_fd(made.get(), what);
    } else {
      UniqueFd made(::openat(parent_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
      if (!made || ::fchmod(made.get(), 0644) != 0) throw_errno("create " + what);
      sync_fd(made.get(), what);
    }
  }
  // The directories last: what was made in them changed their times.
  for (auto& [parent, fd] : parents) {
    const std::string what = dir + "/" + parent;
    if (UniqueFd in_image = snapshot::open_beneath(image_root, parent, O_PATH | O_DIRECTORY); in_image) {
      struct stat like{};
      if (::fstat(in_image.get(), &like) != 0) throw_errno("stat /" + parent + " of the image");
      copy_attributes(fd.get(), like, what);
    } else if (::fchmod(fd.get(), 0755) != 0) {  // missing in the image too: as vpcri-init's mkdir
      throw_errno("chmod " + what);
    }
    sync_fd(fd.get(), what);
  }
  struct stat root_like{};
  if (::fstat(image_root, &root_like) != 0) throw_errno("stat the image's root");
  copy_attributes(layer.get(), root_like, dir);
  sync_fd(layer.get(), dir);
}

}  // namespace vpcri::runtime::image

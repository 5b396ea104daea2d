#include "runtime/container/readonly_binary.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "common/error.h"

namespace vpcri::runtime::container {
namespace {

std::string resolve(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) throw_errno("resolve " + path);
  return resolved;
}

// A detached, read-only clone of the mount `dir` is on, rooted at `dir`.
UniqueFd readonly_tree(const std::string& dir) {
  UniqueFd tree(::open_tree(AT_FDCWD, dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (!tree) throw_errno("open_tree " + dir + " (a private mount to run vpcri-init from; Linux >= 5.2)");
  struct mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    throw_errno("make the private mount of " + dir + " read-only (mount_setattr; Linux >= 5.12)");
  }
  return tree;
}

}  // namespace

ReadOnlyBinary ReadOnlyBinary::open(const std::string& path) {
  const std::string real = resolve(path);
  struct stat at_path{};
  if (::stat(real.c_str(), &at_path) != 0) throw_errno("stat " + path);
  if (!S_ISREG(at_path.st_mode)) throw Error(Errc::invalid_argument, path + " is not a regular file");
  if ((at_path.st_mode & 0111) == 0) throw Error(Errc::invalid_argument, path + " is not executable");

  const size_t slash = real.find_last_of('/');
  const std::string dir = slash == 0 ? "/" : real.substr(0, slash), name = real.substr(slash + 1);
  UniqueFd tree = readonly_tree(dir);
  UniqueFd file(::openat(tree.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!file) throw_errno("open " + name + " in the private mount of " + dir);

  // What runs is the file at `path` (not one a mount on it hides, nor one renamed into place
  // meanwhile), and the mount it is opened through is read-only.
  struct stat opened{};
  struct statvfs where{};
  if (::fstat(file.get(), &opened) != 0 || ::fstatvfs(file.get(), &where) != 0) {
    throw_errno("stat " + path + " in its private mount");
  }
  if (opened.st_dev != at_path.st_dev || opened.st_ino != at_path.st_ino) {
    throw Error(Errc::failed_precondition, path + " changed (or is a mount point) while vpcrid opened it");
  }
  if ((where.f_flag & ST_RDONLY) == 0) throw Error(Errc::internal, "the private mount of " + dir + " is not read-only");
  return ReadOnlyBinary(path, std::move(tree), std::move(file));
}

}  // namespace vpcri::runtime::container

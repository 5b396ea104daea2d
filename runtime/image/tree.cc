#include "runtime/image/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

namespace vpcri::runtime::image {
namespace {

// Calls fn(name) for each entry of the directory `dir_fd` (which stays open and owned by the caller).
template <typename Fn>
void for_each_entry(int dir_fd, const std::string& where, Fn&& fn) {
  int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) throw_errno("dup fd of " + where);
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    ::close(dup_fd);
    throw_errno("opendir " + where);
  }
  // Collect names first: deleting while iterating a directory stream is unspecified.
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) throw_errno("readdir " + where, err);
  for (const auto& name : names) fn(name);
}

void remove_children(int dir_fd, dev_t dev, const std::string& where) {
  for_each_entry(dir_fd, where, [&](const std::string& name) {
    std::string child = where + "/" + name;
    if (::unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) return;
    if (errno != EISDIR && errno != EPERM) throw_errno("unlink " + child);
    UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) {
      if (errno == ENOENT) return;
      throw_errno("open " + child);
    }
    struct stat st {};
    if (::fstat(sub.get(), &st) != 0) throw_errno("stat " + child);
    if (st.st_dev != dev)
      throw Error(Errc::failed_precondition, "refusing to remove " + child + ": a filesystem is mounted there");
    remove_children(sub.get(), dev, child);
    sub.reset();
    if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throw_errno("rmdir " + child);
  });
}

using InodeKey = std::pair<dev_t, ino_t>;

void add_usage(int dir_fd, dev_t dev, const std::string& where, TreeUsage& usage, std::set<InodeKey>& linked) {
  for_each_entry(dir_fd, where, [&](const std::string& name) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return;
      throw_errno("stat " + where + "/" + name);
    }
    if (st.st_dev != dev) return;  // a mount point: not ours to count
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && !linked.insert({st.st_dev, st.st_ino}).second) return;
    usage.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    usage.inodes += 1;
    if (!S_ISDIR(st.st_mode)) return;
    UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) {
      if (errno == ENOENT) return;
      throw_errno("open " + where + "/" + name);
    }
    add_usage(sub.get(), dev, where + "/" + name, usage, linked);
  });
}

}  // namespace

std::vector<std::string> list_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return {};
    throw_errno("open " + path);
  }
  std::vector<std::string> names;
  for_each_entry(fd.get(), path, [&](const std::string& name) { names.push_back(name); });
  return names;
}

void remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw_errno("stat " + path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("unlink " + path);
    return;
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  remove_children(fd.get(), st.st_dev, path);
  fd.reset();
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) throw_errno("rmdir " + path);
}

TreeUsage tree_usage(const std::string& path) {
  TreeUsage usage;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return usage;
    throw_errno("stat " + path);
  }
  usage.bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  usage.inodes = 1;
  if (!S_ISDIR(st.st_mode)) return usage;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  std::set<InodeKey> linked;
  add_usage(fd.get(), st.st_dev, path, usage, linked);
  return usage;
}

}  // namespace vpcri::runtime::image

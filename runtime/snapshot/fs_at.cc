#include "runtime/snapshot/fs_at.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/error.h"

namespace vpcri::runtime::snapshot {

UniqueFd open_beneath(int dirfd, const std::string& path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dirfd, path.empty() ? "." : path.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    // EAGAIN: a concurrent rename elsewhere on the filesystem made the kernel unsure; retry.
    if (errno != EINTR && errno != EAGAIN) return UniqueFd();
  }
}

namespace {

std::vector<std::string> list_names(int dirfd, const std::string& what) {
  // fdopendir takes ownership of the fd it is given, so hand it a duplicate.
  UniqueFd dup_fd(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!dup_fd) throw_errno("dup fd of " + what);
  DIR* dir = ::fdopendir(dup_fd.get());
  if (dir == nullptr) throw_errno("opendir " + what);
  dup_fd.release();
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) throw_errno("readdir " + what, err);
  return names;
}

// `what` is only for messages: the path of `name` as the caller knows it.
void remove_tree_named(int dirfd, const std::string& name, const std::string& what) {
  struct stat st{};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw_errno("stat " + what);
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd child = open_beneath(dirfd, name, O_RDONLY | O_DIRECTORY);
    if (!child) throw_errno("open directory " + what);
    // Collect the names first: deleting while readdir walks the same directory can skip entries.
    for (const std::string& child_name : list_names(child.get(), what)) {
      remove_tree_named(child.get(), child_name, what + "/" + child_name);
    }
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throw_errno("rmdir " + what);
    return;
  }
  if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) throw_errno("unlink " + what);
}

}  // namespace

void remove_tree_at(int dirfd, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    throw Error(Errc::internal, "remove_tree_at: '" + name + "' is not a single path component");
  }
  remove_tree_named(dirfd, name, name);
}

}  // namespace vpcri::runtime::snapshot

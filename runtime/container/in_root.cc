#include "runtime/container/in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"

namespace vpcri::runtime::container {
namespace {

// "/a//b/" → "a/b" (relative to the root fd); "" is the root itself.
std::string relative(const std::string& path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t end = path.find('/', i);
    if (end == std::string::npos) end = path.size();
    if (end > i) {
      if (!out.empty()) out += '/';
      out.append(path, i, end - i);
    }
    i = end + 1;
  }
  return out;
}

// Splits "a/b/c" into "a/b" and "c".
std::pair<std::string, std::string> split_last(const std::string& rel) {
  size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

}  // namespace

UniqueFd open_in_root(int rootfd, const std::string& path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = relative(path);
  for (;;) {
    long fd = ::syscall(SYS_openat2, rootfd, rel.empty() ? "." : rel.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    // EAGAIN: a concurrent rename made the kernel unsure of the resolution; retry.
    if (errno != EINTR && errno != EAGAIN) return UniqueFd();
  }
}

UniqueFd mkdir_in_root(int rootfd, const std::string& path, mode_t mode) {
  std::string rel = relative(path);
  // Mostly the directory exists, or only its last levels are missing: one openat2 of the whole
  // path, and a walk back only as far as what is missing (a container start makes ~20 of these).
  UniqueFd dir = open_in_root(rootfd, rel, O_PATH | O_DIRECTORY);
  if (dir) return dir;
  if (rel.empty() || errno != ENOENT) throw_errno("open directory /" + rel + " in the container root");
  auto [parent_path, name] = split_last(rel);
  UniqueFd parent = mkdir_in_root(rootfd, parent_path, mode);
  // A name (never a path) created in the already resolved parent: nothing to follow.
  if (::mkdirat(parent.get(), name.c_str(), mode) != 0 && errno != EEXIST) throw_errno("mkdir /" + rel);
  dir = open_in_root(rootfd, rel, O_PATH | O_DIRECTORY);
  if (!dir) throw_errno("open directory /" + rel + " in the container root");
  return dir;
}

UniqueFd ensure_file_in_root(int rootfd, const std::string& path) {
  std::string rel = relative(path);
  if (rel.empty()) return mkdir_in_root(rootfd, "");
  UniqueFd fd = open_in_root(rootfd, rel, O_PATH);
  if (fd) return fd;
  if (errno != ENOENT) throw_errno("open /" + rel + " in the container root");
  auto [parent_path, name] = split_last(rel);
  UniqueFd parent = mkdir_in_root(rootfd, parent_path);
  UniqueFd created(::openat(parent.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!created && errno != EEXIST) throw_errno("create /" + rel);
  fd = open_in_root(rootfd, rel, O_PATH);
  if (!fd) throw_errno("open /" + rel + " in the container root");
  return fd;
}

std::string read_file_in_root(int rootfd, const std::string& path, size_t max) {
  UniqueFd fd = open_in_root(rootfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
  if (!fd) throw_errno("open " + path + " in the container root");
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + path + " in the container root");
  if (!S_ISREG(st.st_mode)) throw Error(Errc::invalid_argument, path + " in the container root is not a regular file");
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read " + path + " in the container root");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max) {
      throw Error(Errc::invalid_argument, path + " in the container root is larger than " + std::to_string(max) + " bytes");
    }
  }
}

}  // namespace vpcri::runtime::container

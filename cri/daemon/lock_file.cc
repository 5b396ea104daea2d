#include "cri/daemon/lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/error.h"

namespace vpcri::cri {

LockFile::LockFile(const std::string& path, const std::string& what)
    : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
  if (!fd_) throw_errno("open lock file " + path);
  if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) throw_errno("lock " + path);
    char buf[32] = {};
    ssize_t n = ::pread(fd_.get(), buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    throw Error(Errc::failed_precondition, "another vpcrid (pid " + holder + ") is already using " + what +
                                               " (it holds " + path + "); refusing to start");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_.get(), 0) != 0 || ::pwrite(fd_.get(), pid.data(), pid.size(), 0) < 0) {
    throw_errno("write lock file " + path);
  }
}

}  // namespace vpcri::cri

#include "net/datapath/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "common/log.h"

namespace vpcri::net {

void check_netns_fd(int fd, std::string_view what) {
  if (fd < 0) throw Error(Errc::invalid_argument, std::string(what) + ": no network namespace fd given");
  int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type < 0) {
    throw Error(Errc::invalid_argument, std::string(what) + ": fd " + std::to_string(fd) +
                                            " is not a namespace file (" + std::strerror(errno) + ")");
  }
  if (type != CLONE_NEWNET) {
    throw Error(Errc::invalid_argument,
                std::string(what) + ": fd " + std::to_string(fd) + " is a namespace, but not a network namespace");
  }
}

NetNs NetNs::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("opening network namespace " + path);
  check_netns_fd(fd.get(), path);
  return NetNs(std::move(fd), path);
}

NetNs NetNs::of_pid(pid_t pid) { return open("/proc/" + std::to_string(pid) + "/ns/net"); }

NetNs NetNs::named(std::string_view name) {
  if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..") {
    throw Error(Errc::invalid_argument, "invalid network namespace name '" + std::string(name) + "'");
  }
  return open("/run/netns/" + std::string(name));
}

// /proc/self would name the thread group leader's namespace, not this thread's.
NetNs NetNs::current() { return open("/proc/thread-self/ns/net"); }

NetNs NetNs::dup_fd(int fd, std::string description) {
  check_netns_fd(fd, description);
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy) throw_errno("duplicating the fd of " + description);
  return NetNs(std::move(copy), std::move(description));
}

bool NetNs::same_as(const NetNs& other) const {
  struct stat a {}, b {};
  if (::fstat(fd(), &a) != 0) throw_errno("fstat " + path_);
  if (::fstat(other.fd(), &b) != 0) throw_errno("fstat " + other.path_);
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

NetNsGuard::NetNsGuard(const NetNs& target) : original_(NetNs::current()) {
  if (::setns(target.fd(), CLONE_NEWNET) != 0) throw_errno("entering network namespace " + target.path());
}

NetNsGuard::~NetNsGuard() {
  if (::setns(original_.fd(), CLONE_NEWNET) != 0) {
    log::error("cannot return to the original network namespace; aborting rather than running in the wrong one",
               {{"error", std::strerror(errno)}});
    std::abort();
  }
}

}  // namespace vpcri::net

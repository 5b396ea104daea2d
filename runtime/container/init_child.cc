#include "runtime/container/init_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/child_signals.h"
#include "common/error.h"
#include "runtime/container/cgroup_entry.h"
#include "runtime/container/seccomp_filter.h"

namespace vpcri::runtime::container {

void require_init_fd(const Binaries& bin) {
  if (bin.init_fd < 0) throw Error(Errc::invalid_argument, "no read-only vpcri-init (" + bin.init + ") to run");
}

UniqueFd above_init_child_fds(UniqueFd fd, const char* what) {
  if (!fd) throw_errno(what);
  UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 10));
  if (!moved) throw_errno(std::string("fcntl(F_DUPFD_CLOEXEC) for ") + what);
  return moved;
}

InitChildSpec prepare_init_child(InitSpec spec, bool ns_pidfd_given) {
  InitChildSpec prepared;
  CgroupEntry entry = plan_cgroup_entry(spec.cgroup_dirs);
  prepared.cgroup2_dir = open_cgroup2_dir(entry.cgroup2_dir);
  spec.cgroup_dirs = std::move(entry.v1_dirs);
  spec.ns_pidfd = ns_pidfd_given ? kInitNsPidfdFd : -1;
  compile_seccomp(spec);
  std::string json = init_spec_to_json(spec);
  UniqueFd memfd = above_init_child_fds(UniqueFd(::memfd_create("vpcri-exec-spec", MFD_CLOEXEC)),
                                        "memfd_create for the exec spec");
  if (::write(memfd.get(), json.data(), json.size()) != static_cast<ssize_t>(json.size())) {
    throw_errno("write the exec spec");
  }
  prepared.memfd = std::move(memfd);
  return prepared;
}

pid_t fork_init_child(const InitChildSpec& prepared) {
  return clone_into_cgroup(prepared.cgroup2_dir ? prepared.cgroup2_dir.get() : -1);
}

std::vector<std::string> init_child_args(const Binaries& bin) {
  return {bin.init, "--spec", "/proc/self/fd/" + std::to_string(kInitSpecFd)};
}

void exec_init_child(char* const argv[], char* const envp[], const int fds[kInitChildFds], bool tty) {
  if (tty) {
    if (::setsid() < 0 || ::ioctl(fds[0], TIOCSCTTY, 0) != 0) ::_exit(127);
  } else {
    ::setpgid(0, 0);
  }
  for (int i = 0; i < kInitChildFds; i++) {
    if (fds[i] < 0) {
      ::close(i);  // an optional fd not given: nothing of the daemon's may stand in for it
    } else if (::dup2(fds[i], i) < 0) {
      ::_exit(127);
    }
  }
  // Only for the execveat below: vpcri-init itself must not inherit it.
  if (::fcntl(kInitBinaryFd, F_SETFD, FD_CLOEXEC) < 0) ::_exit(127);
  ::syscall(SYS_close_range, kInitChildFds, ~0U, 0);
  reset_signals_for_exec();
  ::execveat(kInitBinaryFd, "", argv, envp, AT_EMPTY_PATH);
  int err = errno;
  if (::write(kInitErrorFd, &err, sizeof err) < 0) ::_exit(127);
  ::_exit(127);
}

}  // namespace vpcri::runtime::container

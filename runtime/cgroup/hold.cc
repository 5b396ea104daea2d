// CgroupHold: the placeholder process that keeps a new systemd scope from being empty.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "runtime/cgroup/manager.h"

namespace vpcri::runtime::cgroup {

CgroupHold CgroupHold::with_placeholder_process() {
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("forking a placeholder process for a new cgroup");
  if (pid == 0) {
    // Only async-signal-safe calls: the daemon is multi-threaded. Gone with the daemon too.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // It needs no fd, and must not keep another request's pipes open until it is released.
    ::syscall(SYS_close_range, 3, ~0U, 0);
    for (;;) ::pause();
  }
  CgroupHold hold;
  hold.pid_ = pid;
  return hold;
}

CgroupHold::~CgroupHold() { release(); }

CgroupHold& CgroupHold::operator=(CgroupHold&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
  }
  return *this;
}

void CgroupHold::release() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace vpcri::runtime::cgroup

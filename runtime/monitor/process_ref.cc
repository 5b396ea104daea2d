#include "runtime/monitor/process_ref.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <string>

#include "common/error.h"
#include "runtime/monitor/state_file.h"

namespace vpcri::runtime {

std::optional<uint64_t> process_start_time(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  uint64_t start = proc_start_time(pid);  // shared with vpcri-monitor, which records these
  if (start == 0) return std::nullopt;
  return start;
}

bool is_running(const ProcessRef& ref) { return ref.pid > 0 && process_start_time(ref.pid) == ref.start_time; }

UniqueFd open_pidfd(const ProcessRef& ref) {
  if (ref.pid <= 0) return {};
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, ref.pid, 0)));
  if (!fd) {
    if (errno == ESRCH) return {};
    throw_errno("pidfd_open " + std::to_string(ref.pid));
  }
  if (!is_running(ref)) return {};
  return fd;
}

bool send_signal(int pidfd, int sig) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0) return true;
  if (errno == ESRCH) return false;
  throw_errno("pidfd_send_signal " + std::to_string(sig));
}

bool wait_for_exit(int pidfd, std::chrono::milliseconds timeout, const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{pidfd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) throw_errno("poll pidfd of " + what);
    if (r == 0 && left.count() <= 0) return false;
  }
}

}  // namespace vpcri::runtime

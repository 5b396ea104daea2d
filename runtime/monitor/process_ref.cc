#include "runtime/monitor/process_ref.h"

#include <sys/syscall.h>
#include <unistd.h>

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

}  // namespace vpcri::runtime

// Helpers for the security tests only: a body run in a forked child, whose exit code the parent
// asserts (capabilities and seccomp filters cannot be undone, so they are only ever applied
// there); the seccomp filter another process runs under, as the kernel has it.
#pragma once

#include <linux/filter.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace vpcri::runtime::security::testing {

constexpr int kThrew = 120;  // the body threw

// Runs `body` in a child and returns its exit code, or 128 + signal if it was killed.
inline int in_child(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid < 0) std::abort();
  if (pid == 0) {
    // Not doctest's crash handlers: a seccomp kill or trap must end the child as it would any process.
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    int code = kThrew;
    try {
      code = body();
    } catch (...) {
    }
    // exit_group itself, not _exit(): sanitizer runtimes intercept _exit and make syscalls of
    // their own there, which a filter under test may deny.
    ::syscall(SYS_exit_group, code);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

// The most recently loaded seccomp filter of `pid` (sock_filter instructions back to back, as
// compile_profile_json returns them), read with PTRACE_SECCOMP_GET_FILTER (needs
// CAP_SYS_ADMIN): the process is seized and stopped for the read, then let go. "" if it has no
// filter; "error: ..." if it cannot be read.
inline std::string installed_seccomp_filter(pid_t pid) {
  if (::ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) != 0) return "error: PTRACE_SEIZE";
  std::string out = "error: not stopped";
  int status = 0;
  if (::ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) == 0 && ::waitpid(pid, &status, __WALL) == pid) {
    long count = ::ptrace(static_cast<enum __ptrace_request>(PTRACE_SECCOMP_GET_FILTER), pid, 0, nullptr);
    if (count < 0) {
      out = errno == ENOENT ? "" : "error: PTRACE_SECCOMP_GET_FILTER";
    } else {
      std::vector<sock_filter> prog(static_cast<size_t>(count));
      if (::ptrace(static_cast<enum __ptrace_request>(PTRACE_SECCOMP_GET_FILTER), pid, 0, prog.data()) != count) {
        out = "error: PTRACE_SECCOMP_GET_FILTER read";
      } else {
        out.assign(reinterpret_cast<const char*>(prog.data()), prog.size() * sizeof(sock_filter));
      }
    }
  }
  ::ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  return out;
}

}  // namespace vpcri::runtime::security::testing

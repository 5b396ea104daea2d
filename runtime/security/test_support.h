// Helpers for the security tests only: a body run in a forked child, whose exit code the parent
// asserts. Capabilities and seccomp filters cannot be undone, so they are only ever applied there.
#pragma once

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <functional>

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

}  // namespace vpcri::runtime::security::testing

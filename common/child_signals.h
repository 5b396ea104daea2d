// For a child between fork and exec: every signal back to its default action and none blocked,
// so nothing of vpcrid's signal setup reaches what it executes (monitor, vpcri-init, pause).
// Only async-signal-safe calls: it runs in a fork of a multi-threaded process.
#pragma once

#include <signal.h>

namespace vpcri {

inline void reset_signals_for_exec() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace vpcri

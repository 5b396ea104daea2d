#include "cri/daemon/signals.h"

#include <pthread.h>
#include <signal.h>

#include <cstring>

namespace vpcri::cri {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void block_stop_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

const char* wait_for_stop_signal() {
  sigset_t set = stop_signals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig == SIGTERM ? "SIGTERM" : "SIGINT";
}

}  // namespace vpcri::cri

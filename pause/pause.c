/* pause: the first process of every pod. It holds the pod's namespaces open for as long as the
 * pod lives, exits 0 on SIGTERM/SIGINT, and reaps zombies when it is pid 1 of a pod-wide PID
 * namespace. Static, no allocation, no output: it must cost next to nothing per pod. vpcrid runs
 * it with --setup (setup.c), which joins the pod and forks pause itself. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "setup.h"

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
    static const char msg[] = "vpcri pause " VPCRI_VERSION "\n";
    return write(STDOUT_FILENO, msg, sizeof msg - 1) < 0;
  }
  /* Non-dumpable first: a container sharing pause's PID namespace (pause is its pid 1) must not
   * reach pause's memory or files through ptrace or /proc/1/{mem,exe,root,fd}. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return 2;
  /* How vpcrid starts it: only pause itself comes back from here. */
  if (argc > 1 && strcmp(argv[1], "--setup") == 0 && pause_setup(argc, argv) != 0) return 2;
  struct sigaction stop = {0}, child = {0};
  stop.sa_handler = on_stop;
  sigemptyset(&stop.sa_mask);
  child.sa_handler = on_child;
  child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigemptyset(&child.sa_mask);
  if (sigaction(SIGTERM, &stop, NULL) || sigaction(SIGINT, &stop, NULL) || sigaction(SIGCHLD, &child, NULL)) {
    return 2;
  }
  for (;;) pause();
}

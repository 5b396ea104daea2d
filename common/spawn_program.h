// Starting a helper program from the multi-threaded daemon by vfork and exec (posix_spawn):
// nothing of the daemon's memory is copied, where a fork of it and the exec's teardown of that
// copy cost milliseconds. The program starts with every signal at its default and none blocked.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace vpcri {

struct SpawnFds {
  int stdio = -1;  // becomes fds 0, 1 and 2
  // (from, to): dup2 in the child, in order. from == to passes that fd at its own number (it
  // clears close-on-exec there, glibc >= 2.29); every other fd of the daemon is close-on-exec.
  std::vector<std::pair<int, int>> fds;
  int close_from = -1;  // >= 0: every fd from this number up is closed before the exec
};

// Returns the child's pid. A failed spawn or exec throws vpcri::Error "<what>: <reason>".
pid_t spawn_program(const std::string& path, char* const argv[], char* const envp[], const SpawnFds& fds,
                    const std::string& what);

}  // namespace vpcri

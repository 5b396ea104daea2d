#include "common/spawn_program.h"

#include <signal.h>
#include <spawn.h>

#include <cstring>

#include "common/error.h"

namespace vpcri {

pid_t spawn_program(const std::string& path, char* const argv[], char* const envp[], const SpawnFds& fds,
                    const std::string& what) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  if (int err = ::posix_spawn_file_actions_init(&actions); err != 0) throw_errno("posix_spawn_file_actions_init", err);
  if (int err = ::posix_spawnattr_init(&attr); err != 0) {
    ::posix_spawn_file_actions_destroy(&actions);
    throw_errno("posix_spawnattr_init", err);
  }
  int err = 0;
  if (fds.stdio >= 0) {
    for (int fd : {0, 1, 2}) err = err ? err : ::posix_spawn_file_actions_adddup2(&actions, fds.stdio, fd);
  }
  for (const auto& [from, to] : fds.fds) err = err ? err : ::posix_spawn_file_actions_adddup2(&actions, from, to);
  if (!err && fds.close_from >= 0) err = ::posix_spawn_file_actions_addclosefrom_np(&actions, fds.close_from);
  sigset_t all, none;
  ::sigfillset(&all);
  ::sigemptyset(&none);
  if (!err) err = ::posix_spawnattr_setsigdefault(&attr, &all);
  if (!err) err = ::posix_spawnattr_setsigmask(&attr, &none);
  if (!err) err = ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  if (!err) err = ::posix_spawn(&pid, path.c_str(), &actions, &attr, argv, envp);
  ::posix_spawnattr_destroy(&attr);
  ::posix_spawn_file_actions_destroy(&actions);
  if (err != 0) throw Error(errc_from_errno(err), what + ": " + std::strerror(err));
  return pid;
}

}  // namespace vpcri

// The forked child that becomes vpcri-init for a process inside a running container (ExecSync,
// streaming Exec): the one place that lays out its fds and executes the read-only vpcri-init.
#pragma once

#include <string>

#include "common/fd.h"
#include "runtime/container/launch.h"
#include "runtime/container/spec.h"

namespace vpcri::runtime::container {

// vpcri-init's fds in the child: 0-2 stdio, then these.
constexpr int kInitErrorFd = 3;    // start-error channel (init.cc)
constexpr int kInitSpecFd = 4;     // the InitSpec, as a memfd
constexpr int kInitNsPidfdFd = 5;  // the container process's pidfd (InitSpec::ns_pidfd), if any
constexpr int kInitBinaryFd = 6;   // the read-only vpcri-init (Binaries::init_fd), executed from here
constexpr int kInitChildFds = 7;

// Throws unless `bin` holds the read-only vpcri-init: the host path itself is never executed
// (CVE-2019-5736).
void require_init_fd(const Binaries& bin);

// `fd` moved above every fd the child sets up (close-on-exec), so its dup2s cannot clobber it.
UniqueFd above_init_child_fds(UniqueFd fd, const char* what);

// What the daemon prepares for the child before forking it.
struct InitChildSpec {
  UniqueFd memfd;        // the spec, above the child's fds
  UniqueFd cgroup2_dir;  // the container's cgroup2 directory, which the child is cloned into
};

// The spec as a memfd above the child's fds; `ns_pidfd_given` sets spec.ns_pidfd to
// kInitNsPidfdFd. A cgroup2 directory among spec.cgroup_dirs moves out of the spec into
// cgroup2_dir: fork_init_child clones the child straight into it (cgroup_entry.h), and vpcri-init
// joins only the v1 ones.
InitChildSpec prepare_init_child(InitSpec spec, bool ns_pidfd_given);

// Forks the child that becomes vpcri-init (in prepared.cgroup2_dir, if any), without libc's fork
// handlers; the child must call exec_init_child. Returns as fork() does.
pid_t fork_init_child(const InitChildSpec& prepared);

// argv for vpcri-init reading its spec from kInitSpecFd.
std::vector<std::string> init_child_args(const Binaries& bin);

// In the child of fork_init_child (a multi-threaded daemon's): raw, async-signal-safe calls only. fds[i] becomes
// fd i (-1: fd i is closed), everything above is closed, signals reset, then vpcri-init runs
// from kInitBinaryFd. `tty`: a session of its own with fds[0] (a pty slave) as controlling
// terminal; else a process group of its own. Reports an exec failure's errno on kInitErrorFd.
[[noreturn]] void exec_init_child(char* const argv[], char* const envp[], const int fds[kInitChildFds], bool tty);

}  // namespace vpcri::runtime::container

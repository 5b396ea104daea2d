// How a process vpcri starts (pause, a container's vpcri-init, an exec) gets into its cgroups
// without the kernel's global cgroup_threadgroup_rwsem. A write of a pid to `cgroup.procs`
// write-locks it, and its first taker after a quiet spell waits for an RCU grace period: 10-25 ms
// here, once per start, and concurrent starts queue behind it. Instead:
//  - cgroup2 (the unified hierarchy, hybrid or pure): the process is cloned straight into its
//    directory (clone3 with CLONE_INTO_CGROUP, kernel >= 5.7), which is no migration at all;
//  - v1 hierarchies: the single-threaded process writes "0" to each `tasks` file, which moves
//    only the calling thread and so skips that lock (kernels since "cgroup: Optimize single
//    thread migration"; older ones take it either way). Measured here: 8.3 ms for a process that
//    joins 9 v1 hierarchies through cgroup.procs, 0.16 ms through tasks.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/fd.h"

namespace vpcri::runtime::container {

// A process's cgroup directories (one per hierarchy), split by how it enters them.
struct CgroupEntry {
  std::vector<std::string> v1_dirs;  // joined through `tasks` by the process itself
  std::string cgroup2_dir;           // cloned into (CLONE_INTO_CGROUP); "" = none
};

// Classifies `dirs` by their filesystem (statfs). More than one cgroup2 directory is an
// invalid_argument error; a directory that cannot be read is not_found / the errno's code.
CgroupEntry plan_cgroup_entry(const std::vector<std::string>& dirs);

// The directory opened for CLONE_INTO_CGROUP (close-on-exec), or an empty fd for "".
UniqueFd open_cgroup2_dir(const std::string& dir);

// fork() by the raw clone3 syscall, into `cgroup2_dir` when >= 0. No libc fork handlers run:
// the child of a multi-threaded process may use async-signal-safe raw syscalls only (libc's
// cached thread id is the parent's there).
pid_t clone_into_cgroup(int cgroup2_dir);

}  // namespace vpcri::runtime::container

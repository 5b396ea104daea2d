// Starting processes from an InitSpec: containers under a vpcri-monitor (they outlive vpcrid;
// pause has its own path, pause_process.h), and ExecSync processes as vpcrid's own children.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "runtime/container/spec.h"
#include "runtime/monitor/monitor.h"

namespace vpcri::runtime::container {

struct Binaries {
  std::string monitor;  // vpcri-monitor
  std::string init;     // vpcri-init's path: argv[0] and error messages only
  // What runs as vpcri-init: the file opened through a private read-only mount
  // (ReadOnlyBinary), never through a writable one, where a container could reach it through
  // /proc/<pid>/exe and overwrite it (CVE-2019-5736) or hold it open for writing (every exec then
  // fails with ETXTBSY). Required.
  int init_fd = -1;
};

// Writes `spec` to <state_dir>/init.json and starts vpcri-monitor detached, which enters the PID
// namespace of spec.pid (fresh: unshare; join: setns) and runs vpcri-init, which sets up the
// rest and execs spec.process.args. Returns once the user's command runs. Any failure on the way
// (a missing executable, a mount that fails, a bad user) throws vpcri::Error with the step and
// the kernel's reason (e.g. `exec "foo": executable file not found in $PATH`), and
// <state_dir>/exit then records StartError with the same message. A seccomp profile that cannot
// be read or compiled throws before anything starts (seccomp_filter.h).
// `oom_cgroup_dir`: the memory cgroup directory the monitor checks for OOM kills ("" = none).
// `log_dir`: the trusted directory `log_path` lies beneath ("" = the one it is in); below it the
// monitor follows no symlink (MonitorSpec::log_dir). `stdio`: what the monitor keeps for Attach.
MonitorHandle launch(const Binaries& bin, const std::string& state_dir, const std::string& log_path,
                     const InitSpec& spec, const std::string& oom_cgroup_dir, const std::string& log_dir = "",
                     const StdioSpec& stdio = {});

struct ExecResult {
  int exit_code = 0;       // 128 + signal when killed
  std::string stdout_data;
  std::string stderr_data;
  bool timed_out = false;  // killed after `timeout`; exit_code is then 137
  bool cancelled = false;  // killed because `cancelled()` said so; exit_code is then 137
  bool truncated = false;  // a stream said more than `max_output`; the rest was read and dropped
};

struct ExecOptions {
  std::chrono::milliseconds timeout{0};  // 0: none
  size_t max_output = 16 * 1024 * 1024;  // per stream
  // A pidfd of the container's process: the exec joins its namespaces through it (see
  // InitSpec::ns_pidfd) instead of the spec's paths. -1: the paths.
  int ns_pidfd = -1;
  // Polled while the exec runs (every few tens of ms); true ends it like a timeout (the caller
  // went away).
  std::function<bool()> cancelled;
  // Kills everything the exec started, wherever it went (its cgroup); called on timeout or
  // cancellation. Without it only the exec's process group is killed, which a process that
  // calls setsid() leaves.
  std::function<void()> kill_everything;
};

// ExecSync: runs spec (mnt/pid/... join the container's namespaces) as a child of the caller,
// collects its output, and ends it (see ExecOptions) after the timeout or on cancellation.
ExecResult exec_sync(const Binaries& bin, const InitSpec& spec, const ExecOptions& options);
ExecResult exec_sync(const Binaries& bin, const InitSpec& spec, std::chrono::milliseconds timeout,
                     size_t max_output = 16 * 1024 * 1024);

}  // namespace vpcri::runtime::container

// Starting processes from an InitSpec: containers and pause under a vpcri-monitor (they outlive
// vpcrid), and ExecSync processes as vpcrid's own short-lived children.
#pragma once

#include <chrono>
#include <cstddef>
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
// <state_dir>/exit then records StartError with the same message.
// `oom_cgroup_dir`: the memory cgroup directory the monitor checks for OOM kills ("" = none).
// `log_dir`: the trusted directory `log_path` lies beneath ("" = the one it is in); below it the
// monitor follows no symlink (MonitorSpec::log_dir).
MonitorHandle launch(const Binaries& bin, const std::string& state_dir, const std::string& log_path,
                     const InitSpec& spec, const std::string& oom_cgroup_dir, const std::string& log_dir = "");

struct ExecResult {
  int exit_code = 0;       // 128 + signal when killed
  std::string stdout_data;
  std::string stderr_data;
  bool timed_out = false;  // killed after `timeout`; exit_code is then 137
};

// ExecSync: runs spec (mnt/pid/... join the container's namespaces: /proc/<pid>/ns/*) as a
// child of the caller, collects its output (each stream capped at `max_output` bytes; more is
// discarded), kills it (and everything it started) after `timeout` (0 = no timeout).
ExecResult exec_sync(const Binaries& bin, const InitSpec& spec, std::chrono::milliseconds timeout,
                     size_t max_output = 16 * 1024 * 1024);

}  // namespace vpcri::runtime::container

// The files vpcri-monitor keeps in a container's state directory (see monitor.c for who writes
// what, and when), read back by the daemon. Each is a few `key=value` lines, replaced atomically.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "runtime/monitor/process_ref.h"

namespace vpcri::runtime {

// How a container's first process ended, as the CRI reports it.
struct ExitStatus {
  int exit_code = 0;           // the exit status, or 128 + signal (as kubelet expects)
  int signal = 0;              // the signal that killed it, 0 if it exited
  bool oom = false;            // the kernel OOM-killed a process of its cgroup
  int64_t finished_at_ns = 0;  // Unix time in nanoseconds
  std::string finished_at;     // the same, RFC3339Nano UTC; empty when unknown
  std::string reason;          // Completed, Error, OOMKilled, StartError, or Unknown (see below)
  std::string message;         // why, for StartError and Unknown
};

// The reason of an ExitStatus made up by the daemon because the monitor left none.
inline constexpr const char* kExitUnknown = "Unknown";
// The exit code used then (containerd reports 255 for a task whose exit was lost).
inline constexpr int kExitCodeUnknown = 255;

// <state>/exit, or nullopt if the monitor has not written it (yet).
std::optional<ExitStatus> read_exit(const std::string& state_dir);

// <state>/monitor and <state>/pid: the monitor and the container's first process.
std::optional<ProcessRef> read_monitor_ref(const std::string& state_dir);
struct ContainerStart {
  ProcessRef process;
  int64_t started_at_ns = 0;
  std::string started_at;  // RFC3339Nano UTC
};
std::optional<ContainerStart> read_container_start(const std::string& state_dir);

// <state>/log-reopen: how many reopens the monitor has done, and the error of the last one.
struct LogReopenResult {
  uint64_t count = 0;
  std::string path;   // the log file it reopened
  int error_errno = 0;
  std::string error;  // empty on success
};
LogReopenResult read_log_reopen(const std::string& state_dir);

// Parses `key=value` lines; exposed for tests.
std::map<std::string, std::string> parse_state(const std::string& text);

}  // namespace vpcri::runtime

// The daemon side of vpcri-monitor (docs/ARCHITECTURE.md, "Process model"): start a container's
// monitor detached from vpcrid, watch it through a pidfd, and find it again after a restart.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/fd.h"
#include "runtime/monitor/monitor_state.h"
#include "runtime/monitor/process_ref.h"

namespace vpcri::runtime {

// The CRI ContainerConfig's stdio fields: the monitor keeps the process's stdin (a pipe) or a pty
// (tty) for Attach through <state>/attach (attach_protocol.h) for the container's whole life.
struct StdioSpec {
  bool stdin_open = false;
  bool tty = false;
  bool stdin_once = false;  // the first attacher with stdin leaving closes the container's stdin
};

struct MonitorSpec {
  std::string monitor_path;        // the vpcri-monitor binary (installed in libexecdir)
  std::string state_dir;           // absolute, existing, empty: the monitor's files go here
  std::string log_path;            // absolute CRI log file; empty discards the output
  // The trusted directory log_path lies beneath (kubelet's pod log directory; default: the
  // one it is in): below it the monitor creates and opens the file without following symlinks.
  std::string log_dir;
  std::vector<std::string> argv;   // the container's first process; argv[0] is a path (no PATH lookup)
  // >= 0: the monitor executes this fd (vpcri-init through a private read-only mount,
  // runtime/container/readonly_binary.h) instead of the file at argv[0], which then only names
  // the process.
  int exec_fd = -1;
  std::vector<std::string> env;    // environment of the monitor and the process; empty: a default PATH
  std::string cgroup_dir;          // optional: whose memory.events / memory.oom_control tells an OOM kill
  // Optional: the cgroup2 directory the process is cloned into (CLONE_INTO_CGROUP), so it never
  // runs outside it and pays no migration (runtime/container/cgroup_entry.h).
  std::string clone_into_cgroup;
  // The PID namespace the process is forked into: "" the monitor's (the node's), "new" a fresh
  // one (the process is its pid 1), or the path of a namespace file to join.
  std::string pidns;
  // The process is vpcri-init: it reports a failed setup step through fd 3 (4-byte errno, then
  // a message), which spawn_monitor's error and the StartError exit record then carry.
  bool init_pipe = false;
  StdioSpec stdio;
  size_t max_log_line = 16 * 1024;  // longer lines are split into P records (containerd's default)
  std::chrono::milliseconds start_timeout{10000};
};

// A running (or just finished) monitor. The monitor is not our child: its pidfd tells when it
// ends, and then read_exit() of its state directory tells how the container ended.
class MonitorHandle {
 public:
  MonitorHandle(std::string state_dir, ProcessRef monitor, ContainerStart container, UniqueFd pidfd);

  const std::string& state_dir() const { return state_dir_; }
  const ProcessRef& monitor() const { return monitor_; }
  const ProcessRef& container() const { return container_.process; }
  int64_t started_at_ns() const { return container_.started_at_ns; }
  const std::string& started_at() const { return container_.started_at; }

  // Becomes readable (POLLIN) when the monitor exits, i.e. after it recorded the exit: for epoll.
  int pidfd() const { return pidfd_.get(); }
  bool exited() const;

  // Waits up to `timeout` for the monitor to exit; then how the container ended (an Unknown
  // status if the monitor was killed before it could record it), else nullopt.
  std::optional<ExitStatus> wait(std::chrono::milliseconds timeout) const;

  // Signals the container's first process (never a process that recycled its pid); false if it
  // has already exited.
  bool signal_container(int sig) const;

 private:
  std::string state_dir_;
  ProcessRef monitor_;
  ContainerStart container_;
  UniqueFd pidfd_;
};

// Starts vpcri-monitor detached (double fork, own session: it does not die with vpcrid) and
// returns once the container's process runs. A command that cannot be executed fails here with
// the exec error (Errc from its errno, e.g. not_found), and <state>/exit says StartError; with
// init_pipe, the same for vpcri-init's message (e.g. `mount /proc: Permission denied`).
MonitorHandle spawn_monitor(const MonitorSpec& spec);

// After a daemon restart: the live monitor of `state_dir` (checked by pid and start time, so a
// recycled pid is not adopted), or, if it is gone, how the container ended (recorded, or an
// Unknown status when the monitor died without recording it). Throws not_found if the directory
// does not exist.
std::variant<MonitorHandle, ExitStatus> adopt(const std::string& state_dir);

// Whether a vpcri-monitor holds `state_dir`'s lock, i.e. runs for it now (from its first
// instruction on, before its pid files exist). A pid is never consulted, so it cannot be fooled
// by a recycled one.
bool monitor_running(const std::string& state_dir);

// Kills, by pidfd checked against the recorded start times (never a recycled pid), the
// container process and the monitor recorded in `state_dir`, if they still run. Best effort: for
// a start that was cut short; callers wait for monitor_running() to turn false.
void kill_abandoned(const std::string& state_dir) noexcept;

// ReopenContainerLog: asks the monitor to reopen its log path (after the old file was renamed)
// and waits for its answer. Throws with the monitor's error if it could not (it then keeps
// writing to the old file), failed_precondition if the container has exited, deadline_exceeded
// if it does not answer. Callers serialize reopens of one container.
void reopen_log(const MonitorHandle& handle, std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace vpcri::runtime

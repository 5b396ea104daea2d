#include "runtime/monitor/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "common/fs.h"
#include "common/spawn_program.h"

namespace vpcri::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kSyncFd = 3;  // where the monitor finds its end of the sync socket
constexpr int kExecFd = 4;  // where it finds what to execute (MonitorSpec::exec_fd)
constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// NULL-terminated pointers into `strings`, prepared before fork (the child must not allocate).
std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Moves `fd` to a number above stdio and kSyncFd, so dup2 onto 0..3 in the child cannot clobber it.
UniqueFd above_stdio(UniqueFd fd) {
  UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 10));
  if (!moved) throw_errno("fcntl(F_DUPFD_CLOEXEC)");
  return moved;
}

// The monitor's one-line answer on the sync socket ("ok" or "error <errno> <message>").
std::string read_sync_line(int fd, const std::string& state_dir, milliseconds timeout) {
  std::string line;
  auto deadline = Clock::now() + timeout;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      throw Error(Errc::deadline_exceeded,
                  "vpcri-monitor for " + state_dir + " did not report within " + std::to_string(timeout.count()) + " ms");
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno != EINTR) throw_errno("poll vpcri-monitor sync socket");
    if (r <= 0) continue;
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read vpcri-monitor sync socket");
    if (n == 0) {
      throw Error(Errc::internal, "vpcri-monitor for " + state_dir + " exited without reporting whether the container started" +
                                      (line.empty() ? std::string() : " (it said \"" + line + "\")"));
    }
    line.append(buf, static_cast<size_t>(n));
  }
  return line.substr(0, line.find('\n'));
}

// The monitor's "error <errno> <message>" as an Error. The message is complete (the errno's text
// is in it when it matters, and a vpcri-init message has its own wording); the errno picks the
// code. EBUSY and EEXIST mean the monitor refused the directory before touching it: another live
// monitor holds its lock, or a container already ran there.
Error monitor_error(const std::string& line, const std::string& state_dir, bool* refused_untouched) {
  std::string rest = line.substr(6);
  size_t space = rest.find(' ');
  int err = std::atoi(rest.substr(0, space).c_str());
  std::string what = "vpcri-monitor for " + state_dir + ": " + (space == std::string::npos ? "" : rest.substr(space + 1));
  *refused_untouched = err == EBUSY || err == EEXIST;
  if (*refused_untouched) return Error(Errc::failed_precondition, what);
  return Error(err != 0 ? errc_from_errno(err) : Errc::internal, what);
}

ExitStatus unknown_exit(std::string message) {
  ExitStatus status;
  status.exit_code = kExitCodeUnknown;
  status.reason = kExitUnknown;
  status.message = std::move(message);
  return status;
}

// How the container ended once its monitor is gone: as recorded, or Unknown.
ExitStatus exit_after_monitor(const std::string& state_dir, const ProcessRef& monitor) {
  if (auto status = read_exit(state_dir)) return *status;
  std::string message = "vpcri-monitor (pid " + std::to_string(monitor.pid) + ") of " + state_dir +
                        " ended without recording how the container ended";
  if (auto start = read_container_start(state_dir); start && is_running(start->process)) {
    message += "; its process " + std::to_string(start->process.pid) + " still runs";
  }
  return unknown_exit(std::move(message));
}

// After a failed spawn nothing may keep running unobserved: stop what the monitor recorded.
void stop_abandoned(const std::string& state_dir) noexcept {
  try {
    if (auto start = read_container_start(state_dir)) {
      if (UniqueFd fd = open_pidfd(start->process)) send_signal(fd.get(), SIGKILL);
    }
    if (auto monitor = read_monitor_ref(state_dir)) {
      if (UniqueFd fd = open_pidfd(*monitor)) send_signal(fd.get(), SIGKILL);
    }
  } catch (const Error&) {
    // best effort: the original error is what the caller needs to see
  }
}

void validate(const MonitorSpec& spec) {
  auto bad = [](const std::string& what) { throw Error(Errc::invalid_argument, "monitor spec: " + what); };
  if (spec.monitor_path.empty()) bad("no vpcri-monitor path");
  if (spec.argv.empty() || spec.argv[0].empty()) bad("no command for the container process");
  if (spec.state_dir.empty() || spec.state_dir[0] != '/') bad("state directory \"" + spec.state_dir + "\" is not absolute");
  if (!spec.log_path.empty() && spec.log_path[0] != '/') bad("log path \"" + spec.log_path + "\" is not absolute");
  if (!spec.log_dir.empty() && spec.log_path.rfind(spec.log_dir + "/", 0) != 0) {
    bad("log path \"" + spec.log_path + "\" is not in the log directory " + spec.log_dir);
  }
  if (spec.max_log_line == 0) bad("max_log_line is 0");
  if (!spec.pidns.empty() && spec.pidns != "new" && spec.pidns[0] != '/') {
    bad("PID namespace \"" + spec.pidns + "\" is neither \"new\" nor an absolute path");
  }
  if (!spec.clone_into_cgroup.empty() && spec.clone_into_cgroup[0] != '/') {
    bad("cgroup directory \"" + spec.clone_into_cgroup + "\" is not absolute");
  }
  if (!fs::exists(spec.state_dir)) throw Error(Errc::not_found, "state directory " + spec.state_dir + " does not exist");
}

}  // namespace

MonitorHandle::MonitorHandle(std::string state_dir, ProcessRef monitor, ContainerStart container, UniqueFd pidfd)
    : state_dir_(std::move(state_dir)), monitor_(monitor), container_(std::move(container)), pidfd_(std::move(pidfd)) {}

bool MonitorHandle::exited() const {
  return wait_for_exit(pidfd_.get(), milliseconds{0}, "vpcri-monitor " + std::to_string(monitor_.pid));
}

std::optional<ExitStatus> MonitorHandle::wait(milliseconds timeout) const {
  if (!wait_for_exit(pidfd_.get(), timeout, "vpcri-monitor " + std::to_string(monitor_.pid))) return std::nullopt;
  return exit_after_monitor(state_dir_, monitor_);
}

bool MonitorHandle::signal_container(int sig) const {
  UniqueFd fd = open_pidfd(container_.process);
  return fd && send_signal(fd.get(), sig);
}

MonitorHandle spawn_monitor(const MonitorSpec& spec) {
  validate(spec);
  std::vector<std::string> args = {spec.monitor_path, "--detach", "--state", spec.state_dir,
                                   "--sync-fd", std::to_string(kSyncFd)};
  if (!spec.log_path.empty()) args.insert(args.end(), {"--log", spec.log_path});
  if (!spec.log_path.empty() && !spec.log_dir.empty()) args.insert(args.end(), {"--log-dir", spec.log_dir});
  if (!spec.cgroup_dir.empty()) args.insert(args.end(), {"--cgroup", spec.cgroup_dir});
  if (!spec.clone_into_cgroup.empty()) args.insert(args.end(), {"--into-cgroup", spec.clone_into_cgroup});
  if (!spec.pidns.empty()) args.insert(args.end(), {"--pidns", spec.pidns});
  if (spec.init_pipe) args.emplace_back("--init-pipe");
  if (spec.stdio.stdin_open) args.emplace_back("--stdin");
  if (spec.stdio.tty) args.emplace_back("--tty");
  if (spec.stdio.stdin_once) args.emplace_back("--stdin-once");
  if (spec.exec_fd >= 0) args.insert(args.end(), {"--exec-fd", std::to_string(kExecFd)});
  args.insert(args.end(), {"--max-line", std::to_string(spec.max_log_line), "--"});
  args.insert(args.end(), spec.argv.begin(), spec.argv.end());
  std::vector<std::string> env = spec.env.empty() ? std::vector<std::string>{kDefaultPath} : spec.env;
  std::vector<char*> argv = c_array(args), envp = c_array(env);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair for vpcri-monitor");
  UniqueFd ours(sv[0]), theirs = above_stdio(UniqueFd(sv[1]));
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) throw_errno("open /dev/null");
  devnull = above_stdio(std::move(devnull));
  UniqueFd exec_fd;
  if (spec.exec_fd >= 0 && !(exec_fd = UniqueFd(::fcntl(spec.exec_fd, F_DUPFD_CLOEXEC, 10)))) {
    throw_errno("fcntl(F_DUPFD_CLOEXEC) of the program for vpcri-monitor");
  }

  // By vfork and exec (common/spawn_program.h); the monitor detaches itself (--detach). Its stdio is
  // /dev/null, the sync socket its kSyncFd, the program its kExecFd, nothing else.
  SpawnFds fds;
  fds.stdio = devnull.get();
  fds.fds = {{theirs.get(), kSyncFd}};
  if (exec_fd) fds.fds.emplace_back(exec_fd.get(), kExecFd);
  fds.close_from = (exec_fd ? kExecFd : kSyncFd) + 1;
  pid_t child = spawn_program(argv[0], argv.data(), envp.data(), fds, std::string("exec vpcri-monitor ") + argv[0]);
  theirs.reset();
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // (ECHILD: a SIGCHLD handler of the daemon reaped it; the sync socket tells the outcome anyway.)

  bool leave_state_alone = false;
  try {
    std::string line = read_sync_line(ours.get(), spec.state_dir, spec.start_timeout);
    if (line.rfind("error ", 0) == 0) {
      bool refused_untouched = false;
      Error error = monitor_error(line, spec.state_dir, &refused_untouched);
      // What the directory records then belongs to another monitor or an earlier run: not ours
      // to stop.
      if (refused_untouched) leave_state_alone = true;
      throw error;
    }
    if (line != "ok") throw Error(Errc::internal, "vpcri-monitor for " + spec.state_dir + " said \"" + line + "\"");

    // The monitor waits for us to close `ours` before it may exit, so it is alive here.
    auto monitor = read_monitor_ref(spec.state_dir);
    auto container = read_container_start(spec.state_dir);
    if (!monitor || !container) {
      throw Error(Errc::internal, "vpcri-monitor reported success but did not record its state in " + spec.state_dir);
    }
    UniqueFd pidfd = open_pidfd(*monitor);
    if (!pidfd) {
      throw Error(Errc::internal, "vpcri-monitor (pid " + std::to_string(monitor->pid) + ") of " + spec.state_dir +
                                      " ended before reporting back had finished");
    }
    return MonitorHandle(spec.state_dir, *monitor, std::move(*container), std::move(pidfd));
  } catch (...) {
    if (!leave_state_alone) stop_abandoned(spec.state_dir);
    throw;
  }
}

std::variant<MonitorHandle, ExitStatus> adopt(const std::string& state_dir) {
  if (!fs::exists(state_dir)) throw Error(Errc::not_found, "container state directory " + state_dir + " does not exist");
  if (auto status = read_exit(state_dir)) return *status;
  auto monitor = read_monitor_ref(state_dir);
  if (!monitor) {
    return unknown_exit("no vpcri-monitor was recorded in " + state_dir + ": the daemon stopped while starting it");
  }
  UniqueFd pidfd = open_pidfd(*monitor);
  if (!pidfd) return exit_after_monitor(state_dir, *monitor);
  // A monitor started just before the daemon stopped records its container's pid right after fork.
  auto deadline = Clock::now() + std::chrono::seconds(2);
  for (;;) {
    if (auto container = read_container_start(state_dir)) {
      return MonitorHandle(state_dir, *monitor, std::move(*container), std::move(pidfd));
    }
    if (wait_for_exit(pidfd.get(), std::chrono::milliseconds{10}, "vpcri-monitor " + std::to_string(monitor->pid))) {
      return exit_after_monitor(state_dir, *monitor);
    }
    if (Clock::now() > deadline) {
      throw Error(Errc::internal, "vpcri-monitor (pid " + std::to_string(monitor->pid) + ") of " + state_dir +
                                      " runs but has recorded no container process");
    }
  }
}

void kill_abandoned(const std::string& state_dir) noexcept { stop_abandoned(state_dir); }

bool monitor_running(const std::string& state_dir) {
  UniqueFd fd(::open((state_dir + "/lock").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) return false;
    throw_errno("opening " + state_dir + "/lock");
  }
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return false;
  if (errno == EWOULDBLOCK) return true;
  throw_errno("locking " + state_dir + "/lock");
}

void reopen_log(const MonitorHandle& handle, milliseconds timeout) {
  const std::string& dir = handle.state_dir();
  uint64_t before = read_log_reopen(dir).count;
  auto gone = [&] {
    return Error(Errc::failed_precondition, "cannot reopen the log of the container in " + dir + ": it has exited");
  };
  if (!send_signal(handle.pidfd(), SIGUSR1)) throw gone();
  auto deadline = Clock::now() + timeout;
  for (auto pause = milliseconds(1);; pause = std::min(pause * 2, milliseconds(20))) {
    LogReopenResult result = read_log_reopen(dir);
    if (result.count > before) {
      if (result.error.empty()) return;
      if (result.path.empty()) {
        throw Error(Errc::failed_precondition, "the container in " + dir + " has no log file to reopen");
      }
      std::string what = "vpcri-monitor of " + dir + " could not reopen the log file " + result.path;
      if (result.error_errno != 0) {
        throw Error(errc_from_errno(result.error_errno), what + ": " + result.error + " (it keeps writing to the old file)");
      }
      throw Error(Errc::internal, what + ": " + result.error);
    }
    if (handle.exited()) throw gone();
    if (Clock::now() > deadline) {
      throw Error(Errc::deadline_exceeded, "vpcri-monitor of " + dir + " did not answer a log reopen within " +
                                               std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(pause);
  }
}

}  // namespace vpcri::runtime

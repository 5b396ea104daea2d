#include "runtime/container/launch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "runtime/container/cgroup_entry.h"
#include "runtime/container/init_child.h"
#include "runtime/container/seccomp_filter.h"

namespace vpcri::runtime::container {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// After the exec's process ended, how long its output may still arrive from processes it left
// behind holding the pipes.
constexpr milliseconds kOutputGrace{1000};

std::string pidns_option(const NamespaceSpec& pid) {
  switch (pid.mode) {
    case NamespaceSpec::Mode::host: return "";
    case NamespaceSpec::Mode::fresh: return "new";
    case NamespaceSpec::Mode::join: return pid.path;
  }
  return "";
}


struct Pipe {
  UniqueFd read, write;
};

Pipe make_pipe(const char* what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(std::string("pipe for ") + what);
  return {above_init_child_fds(UniqueFd(fds[0]), what), above_init_child_fds(UniqueFd(fds[1]), what)};
}

// Appends what `fd` has to `out` (up to `cap`; the rest is read and dropped, and `dropped` set).
// False at EOF.
bool drain(int fd, std::string& out, size_t cap, bool& dropped) {
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  size_t keep = std::min(static_cast<size_t>(n), cap - std::min(cap, out.size()));
  out.append(buf, keep);
  dropped = dropped || keep < static_cast<size_t>(n);
  return true;
}

// The host's cgroup filesystems do not change under a running node: vpcrid reads them once, not
// every vpcri-init (their mountinfo grows with every pod's mounts).
const CgroupfsLayout& host_cgroupfs_layout() {
  static const CgroupfsLayout layout = read_cgroupfs_layout();
  return layout;
}

}  // namespace

MonitorHandle launch(const Binaries& bin, const std::string& state_dir, const std::string& log_path,
                     const InitSpec& spec, const std::string& oom_cgroup_dir, const std::string& log_dir,
                     const StdioSpec& stdio) {
  require_init_fd(bin);
  InitSpec init_spec = spec;
  compile_seccomp(init_spec);
  CgroupEntry cgroups = plan_cgroup_entry(init_spec.cgroup_dirs);
  init_spec.cgroup_dirs = std::move(cgroups.v1_dirs);
  if (init_spec.cgroup.mode != NamespaceSpec::Mode::host) init_spec.cgroupfs = host_cgroupfs_layout();
  std::string spec_path = state_dir + "/init.json";
  fs::replace_file(spec_path, init_spec_to_json(init_spec), 0600);  // runtime state: no fsync
  MonitorSpec m;
  m.monitor_path = bin.monitor;
  m.state_dir = state_dir;
  m.log_path = log_path;
  m.log_dir = log_dir;
  m.argv = {bin.init, "--spec", spec_path};
  m.exec_fd = bin.init_fd;
  m.env = {kDefaultPath};
  m.cgroup_dir = oom_cgroup_dir;
  m.clone_into_cgroup = cgroups.cgroup2_dir;
  m.pidns = pidns_option(spec.pid);
  m.init_pipe = true;
  m.stdio = stdio;
  return spawn_monitor(m);
}

ExecResult exec_sync(const Binaries& bin, const InitSpec& spec, milliseconds timeout, size_t max_output) {
  ExecOptions options;
  options.timeout = timeout;
  options.max_output = max_output;
  return exec_sync(bin, spec, options);
}

ExecResult exec_sync(const Binaries& bin, const InitSpec& exec_spec, const ExecOptions& options) {
  require_init_fd(bin);
  InitChildSpec prepared = prepare_init_child(exec_spec, options.ns_pidfd >= 0);
  UniqueFd devnull = above_init_child_fds(UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)), "open /dev/null");
  UniqueFd init = above_init_child_fds(UniqueFd(::fcntl(bin.init_fd, F_DUPFD_CLOEXEC, 0)), "dup the read-only vpcri-init");
  Pipe out = make_pipe("exec stdout"), err = make_pipe("exec stderr"), start = make_pipe("exec start errors");

  std::vector<std::string> args = init_child_args(bin);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string path_env = kDefaultPath;
  char* envp[] = {path_env.data(), nullptr};
  UniqueFd ns_pidfd;
  if (options.ns_pidfd >= 0) ns_pidfd = above_init_child_fds(UniqueFd(::fcntl(options.ns_pidfd, F_DUPFD_CLOEXEC, 0)), "dup the container's pidfd");
  const int fds[kInitChildFds] = {devnull.get(), out.write.get(), err.write.get(), start.write.get(),
                                  prepared.memfd.get(), ns_pidfd ? ns_pidfd.get() : -1, init.get()};

  pid_t child = fork_init_child(prepared);
  if (child < 0) throw_errno("fork for exec");
  if (child == 0) exec_init_child(argv.data(), envp, fds, false);
  ::setpgid(child, child);  // (also in the child: whichever runs first, the group exists before a kill)
  // Readable once the process has exited: its output pipes close before it can be reaped, so
  // without it the loop below slept a whole poll interval after the last output (ExecSync p99
  // 24 ms where p50 was 5). Still our unreaped child, so the pid cannot have been reused.
  UniqueFd exit_fd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
  out.write.reset();
  err.write.reset();
  start.write.reset();

  ExecResult result;
  std::string start_error;
  struct Stream {
    int fd;
    std::string* data;
    size_t cap;
  };
  const size_t max_output = options.max_output;
  Stream streams[3] = {{out.read.get(), &result.stdout_data, max_output},
                       {err.read.get(), &result.stderr_data, max_output},
                       {start.read.get(), &start_error, 4 + 1024}};
  auto deadline = options.timeout.count() > 0 ? Clock::now() + options.timeout : Clock::time_point::max();
  Clock::time_point output_deadline = Clock::time_point::max();
  int status = 0;
  bool exited = false;
  bool killed = false;
  auto kill_all = [&] {
    killed = true;
    ::kill(-child, SIGKILL);
    ::kill(child, SIGKILL);
    if (!options.kill_everything) return;
    try {
      options.kill_everything();
    } catch (const std::exception& e) {
      // The process group is dead already; what escaped it is the caller's to clean up.
      log::warn("exec: killing everything it started failed", {{"error", e.what()}});
    }
  };
  for (;;) {
    if (!exited) {
      pid_t r = ::waitpid(child, &status, WNOHANG);
      if (r == child) {
        exited = true;
        output_deadline = Clock::now() + kOutputGrace;
      }
    }
    bool open_streams = streams[0].fd >= 0 || streams[1].fd >= 0 || streams[2].fd >= 0;
    auto now = Clock::now();
    if (exited && (!open_streams || now > output_deadline)) break;
    if (!exited && !killed && now > deadline) {
      result.timed_out = true;
      kill_all();
    }
    if (!exited && !killed && options.cancelled && options.cancelled()) {
      result.cancelled = true;
      kill_all();
    }
    pollfd p[4];
    for (int i = 0; i < 3; i++) p[i] = {streams[i].fd, POLLIN, 0};
    p[3] = {exited ? -1 : exit_fd.get(), POLLIN, 0};
    // Short waits: the deadline and the caller's cancellation are checked between them (and,
    // on a kernel without pidfds, the exit).
    if (::poll(p, 4, 20) < 0 && errno != EINTR) {
      int e = errno;
      kill_all();
      ::waitpid(child, &status, 0);
      throw_errno("poll exec output", e);
    }
    for (int i = 0; i < 3; i++) {
      if (p[i].revents != 0 && !drain(streams[i].fd, *streams[i].data, streams[i].cap, result.truncated)) {
        streams[i].fd = -1;
      }
    }
  }
  if (!exited) ::waitpid(child, &status, 0);

  if (result.timed_out || result.cancelled) {
    result.exit_code = 137;
    return result;
  }
  if (start_error.size() >= sizeof(int)) {
    int e = 0;
    std::memcpy(&e, start_error.data(), sizeof e);
    std::string message = start_error.substr(sizeof e);
    if (message.empty()) message = "exec \"" + bin.init + "\": " + std::strerror(e);
    throw Error(e != 0 ? errc_from_errno(e) : Errc::internal, message);
  }
  result.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return result;
}

}  // namespace vpcri::runtime::container

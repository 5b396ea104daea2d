#include "runtime/container/pause_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/error.h"
#include "common/spawn_program.h"
#include "runtime/container/cgroup_entry.h"
#include "runtime/container/init_error.h"
#include "runtime/container/spec.h"
#include "runtime/container/sysctl.h"

namespace vpcri::runtime::container {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long pause may take from its spawn to being set up (a few ms normally).
constexpr milliseconds kStartTimeout{10000};

// A failed step, as pause --setup reports it (pause/setup.c): the errno and the step's name.
struct StepFailure {
  int err = 0;
  char step[96] = {};
};

// A passed fd as an argument: its number (the setup process gets it at the same one).
std::string fd_arg(int fd) { return std::to_string(fd); }

Error errno_error(const std::string& what) { return Error(errc_from_errno(errno), what + ": " + std::strerror(errno)); }

struct Pipe {
  UniqueFd read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe for pause");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

UniqueFd open_or_throw(const std::string& path, int flags, const std::string& what) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd) throw_errno("open " + what + " " + path);
  return fd;
}

// Reads exactly `size` bytes unless EOF comes first (then false), within the deadline.
bool read_exact(int fd, void* out, size_t size, Clock::time_point deadline) {
  size_t got = 0;
  while (got < size) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw Error(Errc::deadline_exceeded, "pause did not start within " + std::to_string(kStartTimeout.count()) + " ms");
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno != EINTR) throw_errno("poll pause's start");
    if (r <= 0) continue;
    ssize_t n = ::read(fd, static_cast<char*>(out) + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read pause's start");
    if (n == 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool PauseProcess::kill() const { return send_signal(pidfd_.get(), SIGKILL); }

bool PauseProcess::wait(milliseconds timeout) const {
  return wait_for_exit(pidfd_.get(), timeout, "pause " + std::to_string(process_.pid));
}

PauseProcess spawn_pause(const PauseSpec& spec) {
  if (spec.binary_fd < 0) throw Error(Errc::failed_precondition, "pause: no read-only pause binary");
  if (spec.root_mount_point.empty() || spec.root_mount_point[0] != '/') {
    throw Error(Errc::invalid_argument, "pause: root mount point \"" + spec.root_mount_point + "\" is not absolute");
  }
  // The sysctl rules of vpcri-init (namespaced ones only, not of a namespace shared with the node).
  InitSpec scope;
  if (spec.netns.empty()) scope.net.mode = NamespaceSpec::Mode::host;
  if (spec.ipc.empty()) scope.ipc.mode = NamespaceSpec::Mode::host;
  std::vector<std::string> sysctl_paths;
  for (const auto& [key, value] : spec.sysctls) {
    try {
      sysctl_paths.push_back(sysctl_path(key, value, scope));
    } catch (const InitError& e) {
      throw Error(Errc::invalid_argument, e.what());
    }
  }

  UniqueFd netns, ipc, uts, proc_sys;
  if (!spec.netns.empty()) netns = open_or_throw(spec.netns, O_RDONLY, "the pod's network namespace");
  if (!spec.ipc.empty()) ipc = open_or_throw(spec.ipc, O_RDONLY, "the pod's IPC namespace");
  if (!spec.uts.empty()) uts = open_or_throw(spec.uts, O_RDONLY, "the pod's UTS namespace");
  if (!spec.sysctls.empty()) proc_sys = open_or_throw("/proc/sys", O_PATH | O_DIRECTORY, "");
  // cgroup2 (the unified hierarchy of a hybrid host, or the only one): pause is cloned straight
  // into it (CLONE_INTO_CGROUP); v1 hierarchies: joined through their `tasks` file.
  CgroupEntry entry = plan_cgroup_entry(spec.cgroup_dirs);
  std::vector<UniqueFd> tasks;
  for (const auto& dir : entry.v1_dirs) tasks.push_back(open_or_throw(dir + "/tasks", O_WRONLY, "cgroup file"));
  UniqueFd cgroup2_dir = open_cgroup2_dir(entry.cgroup2_dir);
  UniqueFd devnull = open_or_throw("/dev/null", O_RDWR, "");
  Pipe report = make_pipe(), pid_pipe = make_pipe(), release = make_pipe();

  std::vector<std::string> args = {"/pause", "--setup", "--report", fd_arg(report.write.get()),
                                   "--pid-out", fd_arg(pid_pipe.write.get()), "--release", fd_arg(release.read.get()),
                                   "--root", spec.root_mount_point, "--uid", std::to_string(spec.uid),
                                   "--gid", std::to_string(spec.gid)};
  std::vector<int> passed = {report.write.get(), pid_pipe.write.get(), release.read.get()};
  auto pass = [&](const char* flag, const UniqueFd& fd) {
    if (!fd) return;
    args.insert(args.end(), {flag, fd_arg(fd.get())});
    passed.push_back(fd.get());
  };
  pass("--netns", netns);
  pass("--ipc", ipc);
  pass("--uts", uts);
  pass("--proc-sys", proc_sys);
  pass("--cgroup2", cgroup2_dir);
  for (const auto& fd : tasks) pass("--tasks", fd);
  size_t i = 0;
  for (const auto& [key, value] : spec.sysctls) args.insert(args.end(), {"--sysctl", sysctl_paths[i++] + "=" + value});
  if (spec.new_pid_ns) args.emplace_back("--pidns-new");
  // By vfork and exec (common/spawn_program.h), of the read-only binary through /proc/self/fd
  // (posix_spawn has no execveat); the passed fds keep their numbers.
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  char* envp[] = {nullptr};
  SpawnFds fds;
  fds.stdio = devnull.get();
  for (int fd : passed) fds.fds.emplace_back(fd, fd);
  pid_t step = spawn_program("/proc/self/fd/" + std::to_string(spec.binary_fd), argv.data(), envp, fds,
                             "starting pause: exec pause");
  report.write.reset();
  pid_pipe.write.reset();
  release.read.reset();

  const auto deadline = Clock::now() + kStartTimeout;
  std::optional<ProcessRef> pause;
  UniqueFd pidfd;
  std::optional<Error> error;
  try {
    pid_t pid = 0;
    if (read_exact(pid_pipe.read.get(), &pid, sizeof pid, deadline)) {
      // pause's parent (the setup process) is alive and does not reap it: the pid names pause.
      ProcessRef ref{pid, 0};
      pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
      if (!pidfd) throw_errno("pidfd_open pause " + std::to_string(pid));
      auto start = process_start_time(pid);
      if (!start) throw Error(Errc::internal, "pause " + std::to_string(pid) + " ended at once");
      ref.start_time = *start;
      pause = ref;
    }
  } catch (const Error& e) {
    error = e;
  }
  // The setup process exits on this byte (or on EOF, should vpcrid die first).
  if (::write(release.write.get(), "x", 1) < 0 && errno != EPIPE) error = errno_error("releasing pause's spawn step");
  release.write.reset();
  int status = 0;
  while (::waitpid(step, &status, 0) < 0 && errno == EINTR) {
  }
  if (!error) {
    try {
      // EOF: pause is set up (it closed its copy, the setup process exited), or a step failed
      // and said which.
      StepFailure failure;
      if (read_exact(report.read.get(), &failure, sizeof failure, deadline)) {
        failure.step[sizeof failure.step - 1] = '\0';
        error = Error(errc_from_errno(failure.err),
                      std::string("starting pause: ") + failure.step + ": " + std::strerror(failure.err));
      } else if (!pause) {
        error = Error(Errc::internal, "starting pause: the spawn step ended without starting it");
      }
    } catch (const Error& e) {
      error = e;
    }
  }
  if (error) {
    if (pidfd) {
      send_signal(pidfd.get(), SIGKILL);
      wait_for_exit(pidfd.get(), milliseconds{1000}, "pause");
    }
    throw *error;
  }
  return PauseProcess(*pause, std::move(pidfd));
}

std::optional<PauseProcess> adopt_pause(const ProcessRef& process) {
  UniqueFd pidfd = open_pidfd(process);
  if (!pidfd) return std::nullopt;
  return PauseProcess(process, std::move(pidfd));
}

}  // namespace vpcri::runtime::container

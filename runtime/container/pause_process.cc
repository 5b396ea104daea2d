#include "runtime/container/pause_process.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/child_signals.h"
#include "common/error.h"
#include "runtime/container/cgroup_entry.h"
#include "runtime/container/init_error.h"
#include "runtime/container/spec.h"
#include "runtime/container/sysctl.h"

namespace vpcri::runtime::container {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long pause may take from fork to its exec (a few ms normally).
constexpr milliseconds kStartTimeout{10000};

// A failed step, as the children report it: the errno and the step's name (a literal).
struct StepFailure {
  int err = 0;
  char step[96] = {};
};

// Everything the children use, prepared before fork: they run in the fork of a multi-threaded
// daemon, so async-signal-safe calls only, no allocation.
struct ChildPlan {
  int binary = -1, devnull = -1, report = -1, pid_out = -1, release = -1, proc_sys = -1;
  // Every fd above stdio the step needs, ascending: it closes all others first, among them
  // vpcrid's ends of these pipes and those of other RunPodSandbox calls forking meanwhile, so
  // no step ever keeps another one waiting for an EOF.
  std::vector<int> keep;
  int netns = -1, ipc = -1, uts = -1;
  std::vector<int> cgroup_tasks;  // v1 hierarchies' `tasks` files (see join_cgroups)
  std::vector<std::pair<const char*, const std::string*>> sysctls;  // path under /proc/sys, value
  const char* root = nullptr;
  bool new_pid_ns = true;
  uid_t uid = 0;
  gid_t gid = 0;
};

[[noreturn]] void fail(const ChildPlan& plan, const char* step) {
  StepFailure f;
  f.err = errno;
  size_t n = ::strlen(step);
  if (n >= sizeof f.step) n = sizeof f.step - 1;
  ::memcpy(f.step, step, n);
  if (::write(plan.report, &f, sizeof f) < 0) ::_exit(126);
  ::_exit(127);
}

bool write_all(int fd, const char* data, size_t size) {
  return ::write(fd, data, size) == static_cast<ssize_t>(size);
}

// pause itself: root, user and privileges, then exec. Never returns.
[[noreturn]] void become_pause(const ChildPlan& plan) {
  // An empty read-only root: the host's mounts (copied into this namespace) are detached whole.
  if (::chdir(plan.root) != 0) fail(plan, "chdir to pause's root");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) fail(plan, "pivot_root into pause's root");
  if (::umount2(".", MNT_DETACH) != 0) fail(plan, "detach the host's mounts");
  if (::chdir("/") != 0) fail(plan, "chdir /");
  if (::dup2(plan.devnull, 0) < 0 || ::dup2(plan.devnull, 1) < 0 || ::dup2(plan.devnull, 2) < 0) {
    fail(plan, "stdio on /dev/null");
  }
  // Every capability goes: bounding set (while CAP_SETPCAP is still held), ambient, then the
  // user switch and the remaining sets; no_new_privs keeps it so through exec.
  for (int cap = 0; cap <= 63; cap++) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past the kernel's last capability
      fail(plan, "drop the capability bounding set");
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) fail(plan, "clear ambient capabilities");
  // Raw syscalls: glibc's wrappers would try to signal threads this fork does not have.
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) fail(plan, "setgroups");
  if (::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) fail(plan, "setgid");
  if (::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) fail(plan, "setuid");
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[2] = {};
  if (::syscall(SYS_capset, &header, none) != 0) fail(plan, "drop capabilities");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(plan, "prctl(PR_SET_NO_NEW_PRIVS)");
  reset_signals_for_exec();
  // Nothing of vpcrid's may reach pause: every fd above stdio closes at exec (the report pipe
  // too, which tells vpcrid the exec succeeded).
  ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  static char arg0[] = "/pause";
  char* argv[] = {arg0, nullptr};
  char* envp[] = {nullptr};
  ::execveat(plan.binary, "", argv, envp, AT_EMPTY_PATH);
  fail(plan, "exec pause");
}

// The short-lived step between vpcrid and pause: namespaces, sysctls, cgroup, then pause forked
// into the new PID namespace. Waits for vpcrid to have a pidfd of pause (so the pid cannot be
// recycled before), then exits: pause is reparented to init.
[[noreturn]] void spawn_step(const ChildPlan& plan) {
  unsigned from = 3;
  for (int fd : plan.keep) {
    if (static_cast<unsigned>(fd) > from) ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0);
    from = static_cast<unsigned>(fd) + 1;
  }
  ::syscall(SYS_close_range, from, ~0U, 0);
  if (::setsid() < 0) fail(plan, "setsid");
  if (plan.netns >= 0 && ::setns(plan.netns, CLONE_NEWNET) != 0) fail(plan, "join the pod's network namespace");
  if (plan.ipc >= 0 && ::setns(plan.ipc, CLONE_NEWIPC) != 0) fail(plan, "join the pod's IPC namespace");
  if (plan.uts >= 0 && ::setns(plan.uts, CLONE_NEWUTS) != 0) fail(plan, "join the pod's UTS namespace");
  // /proc/sys/net and the IPC sysctls resolve to the namespaces of whoever opens them: ours now.
  for (const auto& [path, value] : plan.sysctls) {
    open_how how{};
    how.flags = O_WRONLY | O_TRUNC | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int fd = static_cast<int>(::syscall(SYS_openat2, plan.proc_sys, path, &how, sizeof how));
    if (fd < 0) fail(plan, "open a pod sysctl");
    bool ok = write_all(fd, value->data(), value->size());
    ::close(fd);
    if (!ok) fail(plan, "write a pod sysctl");
  }
  // The v1 hierarchies through `tasks`, not `cgroup.procs`: moving a whole process write-locks
  // the kernel's global cgroup_threadgroup_rwsem, which first waits for an RCU grace period
  // (10-25 ms here, serialising concurrent pod starts); moving just the calling thread skips that
  // lock, and this step has one thread. Its fork (pause) inherits every cgroup.
  for (int tasks : plan.cgroup_tasks) {
    if (!write_all(tasks, "0", 1)) fail(plan, "join the pod cgroup");
  }
  // A cgroup namespace rooted at the pod cgroup too, as every container gets.
  if (::unshare(CLONE_NEWNS | CLONE_NEWCGROUP | (plan.new_pid_ns ? CLONE_NEWPID : 0)) != 0) {
    fail(plan, "unshare mount/cgroup/PID namespaces");
  }
  // Private first: unmounting the host's tree below must not propagate back to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(plan, "make the mount tree private");
  if (::mount("tmpfs", plan.root, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") != 0) {
    fail(plan, "mount pause's empty root");
  }
  pid_t pause = clone_into_cgroup(-1);
  if (pause < 0) fail(plan, "fork pause");
  if (pause == 0) become_pause(plan);
  if (!write_all(plan.pid_out, reinterpret_cast<const char*>(&pause), sizeof pause)) ::_exit(1);
  char byte;
  while (::read(plan.release, &byte, 1) < 0 && errno == EINTR) {
  }
  ::_exit(0);
}

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
  // cgroup2 (the unified hierarchy of a hybrid host, or the only one): the step is cloned
  // straight into it (CLONE_INTO_CGROUP); v1 hierarchies: joined through their `tasks` file.
  CgroupEntry entry = plan_cgroup_entry(spec.cgroup_dirs);
  std::vector<UniqueFd> tasks;
  for (const auto& dir : entry.v1_dirs) tasks.push_back(open_or_throw(dir + "/tasks", O_WRONLY, "cgroup file"));
  UniqueFd cgroup2_dir = open_cgroup2_dir(entry.cgroup2_dir);
  UniqueFd devnull = open_or_throw("/dev/null", O_RDWR, "");
  Pipe report = make_pipe(), pid_pipe = make_pipe(), release = make_pipe();

  ChildPlan plan;
  plan.binary = spec.binary_fd;
  plan.devnull = devnull.get();
  plan.report = report.write.get();
  plan.pid_out = pid_pipe.write.get();
  plan.release = release.read.get();
  plan.proc_sys = proc_sys.get();
  plan.netns = netns.get();
  plan.ipc = ipc.get();
  plan.uts = uts.get();
  for (const auto& fd : tasks) plan.cgroup_tasks.push_back(fd.get());
  size_t i = 0;
  for (const auto& [key, value] : spec.sysctls) plan.sysctls.emplace_back(sysctl_paths[i++].c_str(), &value);
  plan.root = spec.root_mount_point.c_str();
  plan.new_pid_ns = spec.new_pid_ns;
  plan.uid = spec.uid;
  plan.gid = spec.gid;
  for (int fd : {plan.binary, plan.devnull, plan.report, plan.pid_out, plan.release, plan.proc_sys, plan.netns, plan.ipc,
                 plan.uts}) {
    if (fd >= 3) plan.keep.push_back(fd);
  }
  for (int fd : plan.cgroup_tasks) plan.keep.push_back(fd);
  std::sort(plan.keep.begin(), plan.keep.end());

  pid_t step = clone_into_cgroup(cgroup2_dir ? cgroup2_dir.get() : -1);
  if (step < 0) throw_errno(cgroup2_dir ? "clone3 into the pod's cgroup2 directory for pause" : "clone3 for pause");
  if (step == 0) spawn_step(plan);
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
      // pause's parent (the step) is alive and does not reap it: the pid names pause for sure.
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
  // The step exits on this byte (or on EOF, should vpcrid die first).
  if (::write(release.write.get(), "x", 1) < 0 && errno != EPIPE) error = errno_error("releasing pause's spawn step");
  release.write.reset();
  int status = 0;
  while (::waitpid(step, &status, 0) < 0 && errno == EINTR) {
  }
  if (!error) {
    try {
      // EOF: pause executed (its end closed on exec), or a step failed and said which.
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

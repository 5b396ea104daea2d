#include "runtime/container/pod_namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "common/fs.h"
#include "runtime/monitor/process_ref.h"

namespace vpcri::runtime::container {
namespace {

// Closes every fd above 2 but `keep_a` and `keep_b`.
void close_all_but(int keep_a, int keep_b) {
  const unsigned lo = static_cast<unsigned>(std::min(keep_a, keep_b));
  const unsigned hi = static_cast<unsigned>(std::max(keep_a, keep_b));
  // close_range fails with EINVAL for an empty range, which is fine.
  ::syscall(SYS_close_range, 3U, lo - 1, 0U);
  ::syscall(SYS_close_range, lo + 1, hi - 1, 0U);
  ::syscall(SYS_close_range, hi + 1, ~0U, 0U);
}

// The child that holds the new namespaces while they are bind-mounted: unshares, tells the
// parent (one byte on `ready`), and waits for `done` to close. Async-signal-safe only.
[[noreturn]] void holder(int flags, const std::string& hostname, int ready, int done) {
  // It never execs, so O_CLOEXEC does not help: without this it would keep the parent's ends of
  // its own pipes, and of the pipes of pins running concurrently in other threads, and those
  // holders' `done` would never see EOF (a hang under concurrent RunPodSandbox).
  close_all_but(ready, done);
  char result = 0;
  if (::unshare(flags) != 0) {
    result = 1;
  } else if ((flags & CLONE_NEWUTS) != 0 && !hostname.empty() && ::sethostname(hostname.data(), hostname.size()) != 0) {
    result = 2;
  }
  int err = errno;
  if (::write(ready, &result, 1) != 1 || (result != 0 && ::write(ready, &err, sizeof err) < 0)) ::_exit(1);
  char byte;
  while (::read(done, &byte, 1) < 0 && errno == EINTR) {
  }
  ::_exit(result);
}

void unpin_file(const std::string& path) {
  // Stacked mounts (a repeated pin after a crash) all go: EINVAL once nothing is mounted.
  while (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
  }
  if (errno != EINVAL && errno != ENOENT) throw_errno("unmount " + path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path);
}

// `created` collects what to undo if a later step fails (never a pin that was there before).
void bind_namespace(pid_t holder_pid, const char* proc_name, const std::string& target,
                    std::vector<std::string>& created) {
  UniqueFd file(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!file) throw_errno("create " + target);
  created.push_back(target);
  std::string source = "/proc/" + std::to_string(holder_pid) + "/ns/" + proc_name;
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    throw_errno("bind-mount " + source + " on " + target);
  }
}

}  // namespace

PodNamespaces pin_pod_namespaces(const std::string& dir, const PodNamespacesSpec& spec) {
  if (spec.hostname.size() > 64) throw Error(Errc::invalid_argument, "hostname \"" + spec.hostname + "\" is too long");
  if (spec.pid) {
    // The kernel hands out a PID namespace only once it has a process (its pid 1):
    // /proc/<pid>/ns/pid_for_children of a fresh one is ENOENT until then.
    throw Error(Errc::invalid_argument,
                "a pod PID namespace cannot be pinned before its first process: start pause with a fresh PID "
                "namespace, then pin_pid_namespace() it");
  }
  fs::mkdir_p(dir);
  int flags = (spec.ipc ? CLONE_NEWIPC : 0) | (spec.uts ? CLONE_NEWUTS : 0);
  PodNamespaces out;
  if (flags == 0) return out;

  int ready[2], done[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd ready_r(ready[0]), ready_w(ready[1]);
  if (::pipe2(done, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd done_r(done[0]), done_w(done[1]);

  pid_t child = ::fork();
  if (child < 0) throw_errno("fork to create the pod namespaces");
  if (child == 0) {
    holder(flags, spec.hostname, ready_w.get(), done_r.get());
  }
  ready_w.reset();
  done_r.reset();
  std::vector<std::string> created;
  auto finish_child = [&] {
    done_w.reset();
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  try {
    char result = 0;
    if (::read(ready_r.get(), &result, 1) != 1) throw Error(Errc::internal, "the pod namespace holder died before reporting its namespaces "
                                                                    "(killed, or out of memory?); retry RunPodSandbox");
    if (result != 0) {
      int err = EIO;
      if (::read(ready_r.get(), &err, sizeof err) != sizeof err) err = EIO;
      throw_errno(result == 1 ? "unshare pod namespaces" : "sethostname \"" + spec.hostname + "\"", err);
    }
    if (spec.ipc) bind_namespace(child, "ipc", out.ipc = dir + "/ipc", created);
    if (spec.uts) bind_namespace(child, "uts", out.uts = dir + "/uts", created);
  } catch (...) {
    finish_child();
    for (const std::string& path : created) {
      try {
        unpin_file(path);
      } catch (const Error&) {
        // best effort: the original error is the one to report
      }
    }
    throw;
  }
  finish_child();
  return out;
}

void pin_pid_namespace_at(const std::string& path, const ProcessRef& process) {
  const std::string who = "pinning the PID namespace of pid " + std::to_string(process.pid);
  UniqueFd pidfd = open_pidfd(process);
  if (!pidfd) throw Error(Errc::failed_precondition, who + ": the process is no longer running");
  const std::string source = "/proc/" + std::to_string(process.pid) + "/ns/pid";
  UniqueFd ns(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) throw_errno(who + ": open " + source);
  // Not reaped yet after the open, so the pid was not recycled in between: `ns` is its namespace.
  if (!send_signal(pidfd.get(), 0)) throw Error(Errc::failed_precondition, who + ": the process ended meanwhile");
  UniqueFd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!file) throw_errno(who + ": create " + path);
  const std::string held = "/proc/self/fd/" + std::to_string(ns.get());
  if (::mount(held.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    throw_errno(who + ": bind-mount it on " + path, err);
  }
}

std::string pin_pid_namespace(const std::string& dir, const ProcessRef& process) {
  fs::mkdir_p(dir);
  std::string path = dir + "/pid";
  pin_pid_namespace_at(path, process);
  return path;
}

void unpin_namespace(const std::string& path) { unpin_file(path); }

void unpin_pod_namespaces(const std::string& dir) {
  for (const char* kind : {"ipc", "uts", "pid"}) unpin_file(dir + "/" + kind);
}

}  // namespace vpcri::runtime::container

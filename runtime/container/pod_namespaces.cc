#include "runtime/container/pod_namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "common/fs.h"
#include "runtime/monitor/process_ref.h"

namespace vpcri::runtime::container {
namespace {

void unpin_file(const std::string& path) {
  // Stacked mounts (a repeated pin after a crash) all go: EINVAL once nothing is mounted.
  while (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
  }
  if (errno != EINVAL && errno != ENOENT) throw_errno("unmount " + path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path);
}

// Binds this thread's namespace of `kind` on `target` (a new file); `created` collects what to
// undo if a later step fails (never a pin that was there before).
void bind_own_namespace(const char* kind, const std::string& target, std::vector<std::string>& created) {
  UniqueFd file(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!file) throw_errno("create " + target);
  created.push_back(target);
  std::string source = std::string("/proc/thread-self/ns/") + kind;
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

  // A throwaway thread makes and pins them: IPC and UTS namespaces are per thread, so no
  // process (a fork of all of vpcrid) is needed, and the thread ends right after, so nothing of
  // ours stays inside them.
  std::vector<std::string> created;
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      if (::unshare(flags) != 0) throw_errno("unshare pod namespaces");
      if (spec.uts && !spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
        throw_errno("sethostname \"" + spec.hostname + "\"");
      }
      if (spec.ipc) bind_own_namespace("ipc", out.ipc = dir + "/ipc", created);
      if (spec.uts) bind_own_namespace("uts", out.uts = dir + "/uts", created);
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) {
    for (const std::string& path : created) {
      try {
        unpin_file(path);
      } catch (const Error&) {
        // best effort: the original error is the one to report
      }
    }
    std::rethrow_exception(failure);
  }
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

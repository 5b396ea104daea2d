// vpcri-init: a container's first process, from its setup to the execve of the user's command
// (docs/ARCHITECTURE.md, "Process model"). vpcri-monitor runs it (already in the pod's PID
// namespace) as `vpcri-init --spec <state>/init.json`; exec_sync runs it for ExecSync with the
// container's namespaces to join (mnt join: "exec mode").
//
// Its start-error channel is fd 3 (vpcri-monitor --init-pipe, or exec_sync's pipe): a failed step
// writes a 4-byte errno and a message naming the step, e.g. `mount /proc: Permission denied`,
// then vpcri-init exits; fd 3 is close-on-exec for the final execve, so EOF means "started".
//
// /proc/self/exe (CVE-2019-5736): vpcri-init runs in the container's PID namespace and enters its
// mount namespace, so the container's processes may see it, and a `#!/proc/self/exe` command
// makes the kernel run it again as the script's interpreter. It therefore always runs through a
// private read-only mount of its directory (readonly_binary.h): an exe a container reaches in the
// instant before the prctl below cannot be opened for writing at all (EROFS), so it can neither
// be overwritten nor held open by a writer that would make every later exec fail with ETXTBSY.
// It makes itself non-dumpable first thing, so its /proc/<pid>/exe, fd/ and mem need
// CAP_SYS_PTRACE; the final execve makes the user's command dumpable again.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "common/fs.h"
#include "runtime/container/init_error.h"
#include "runtime/container/init_process.h"
#include "runtime/container/init_rootfs.h"
#include "runtime/container/spec.h"
#include "runtime/container/sysctl.h"
#include "runtime/security/seccomp_load.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace vpcri::runtime::container {
namespace {

constexpr int kErrorFd = 3;
constexpr size_t kMaxMessage = 1024;  // what vpcri-monitor reads of a message

void report(int err, const std::string& message) {
  std::string out(reinterpret_cast<const char*>(&err), sizeof err);
  out += message.substr(0, kMaxMessage);
  if (::write(kErrorFd, out.data(), out.size()) < 0) {
    std::fprintf(stderr, "vpcri-init: %s\n", message.c_str());  // run by hand: no channel
  }
}

int errno_of(Errc code) {
  switch (code) {
    case Errc::not_found: return ENOENT;
    case Errc::invalid_argument: return EINVAL;
    case Errc::already_exists: return EEXIST;
    case Errc::resource_exhausted: return ENOMEM;
    default: return 0;
  }
}

// v1 hierarchies through `tasks`: "0" there moves only this thread, the whole of vpcri-init,
// without the kernel's global threadgroup lock that `cgroup.procs` takes (cgroup_entry.h). The
// cgroup2 directory normally is not here: the monitor or exec spawner cloned us into it; one that
// is (it has no `tasks`) is joined through cgroup.procs.
void join_cgroups(const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    UniqueFd fd(::open((dir + "/tasks").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd && errno == ENOENT) fd = UniqueFd(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), "0", 1) != 1) init_failed("join cgroup " + dir);
  }
}

struct Kind {
  const NamespaceSpec& ns;
  int flag;
  const char* name;
};

// Joins and creates the namespaces. Every file to join is opened before the first setns: after
// joining a mount namespace the host's paths are gone.
void enter_namespaces(const InitSpec& spec, bool exec_mode) {
  std::vector<Kind> kinds = {{spec.ipc, CLONE_NEWIPC, "ipc"}, {spec.uts, CLONE_NEWUTS, "uts"},
                             {spec.net, CLONE_NEWNET, "net"}};
  if (exec_mode) kinds.push_back({spec.pid, CLONE_NEWPID, "pid"});  // else vpcri-monitor entered it
  kinds.push_back({spec.mnt, CLONE_NEWNS, "mnt"});
  // Unshared (or joined) after join_cgroups: the namespace's root is the container's cgroup.
  kinds.push_back({spec.cgroup, CLONE_NEWCGROUP, "cgroup"});
  if (spec.ns_pidfd >= 0) {
    // All at once through the container process's pidfd: it names that process only, so a
    // recycled pid can never be entered.
    int flags = 0;
    for (const Kind& k : kinds) flags |= k.ns.mode == NamespaceSpec::Mode::join ? k.flag : 0;
    if (flags != 0 && ::setns(spec.ns_pidfd, flags) != 0) init_failed("join the container's namespaces (setns on its pidfd)");
    ::close(spec.ns_pidfd);
  }
  std::vector<UniqueFd> fds;
  for (const Kind& k : kinds) {
    if (k.ns.mode != NamespaceSpec::Mode::join || spec.ns_pidfd >= 0) {
      fds.emplace_back();
      continue;
    }
    fds.emplace_back(::open(k.ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fds.back()) init_failed(std::string("open ") + k.name + " namespace " + k.ns.path);
  }
  int fresh = 0;
  for (size_t i = 0; i < kinds.size(); i++) {
    if (fds[i] && ::setns(fds[i].get(), kinds[i].flag) != 0) {
      init_failed(std::string("join ") + kinds[i].name + " namespace " + kinds[i].ns.path);
    }
    if (kinds[i].ns.mode == NamespaceSpec::Mode::fresh && kinds[i].flag != CLONE_NEWPID) fresh |= kinds[i].flag;
  }
  if (fresh != 0 && ::unshare(fresh) != 0) init_failed("unshare namespaces");
  if (spec.uts.mode == NamespaceSpec::Mode::fresh && !spec.hostname.empty() &&
      ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
    init_failed("sethostname \"" + spec.hostname + "\"");
  }
}

// The filter vpcrid compiled from the profile (seccomp_filter.h): a confined process never runs
// without one.
void load_seccomp(const SeccompSpec& seccomp) {
  if (seccomp.mode == SeccompSpec::Mode::unconfined) return;
  if (seccomp.filter.empty()) throw InitError(EINVAL, "seccomp: the spec has no compiled filter for its profile");
  try {
    security::load_filter(seccomp.filter);
  } catch (const Error& e) {
    throw InitError(errno_of(e.code()), std::string("seccomp: ") + e.what());
  }
}

// Exec mode with a PID namespace to join: setns(CLONE_NEWPID) applies to children only, so the
// parent forks, waits and exits as the child did (signals it gets are passed on). Returns in
// the child.
pid_t g_child = 0;

void forward_signal(int sig) { ::kill(g_child, sig); }

void fork_into_pidns() {
  g_child = ::fork();
  if (g_child < 0) init_failed("fork into the container's PID namespace");
  // (The child cannot check getppid() against a parent outside its PID namespace: it reads 0.
  // exec_sync's kill of the whole process group covers a parent killed before this prctl.)
  if (g_child == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) init_failed("prctl(PR_SET_PDEATHSIG)");
    return;
  }
  ::close(kErrorFd);  // the child reports; EOF must come with its execve
  struct sigaction sa{};
  sa.sa_handler = forward_signal;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) ::sigaction(sig, &sa, nullptr);
  int status = 0;
  while (::waitpid(g_child, &status, 0) < 0) {
    if (errno != EINTR) ::_exit(1);
  }
  if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
  int sig = WTERMSIG(status);
  ::signal(sig, SIG_DFL);
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  ::_exit(128 + sig);
}

[[noreturn]] void run(const std::string& spec_path) {
  // Only stdio and the error pipe may reach the command (the spec may have come as an fd).
  ::syscall(SYS_close_range, kErrorFd + 1, ~0U, CLOSE_RANGE_CLOEXEC);
  InitSpec spec;
  try {
    spec = init_spec_from_json(fs::read_file(spec_path));
  } catch (const Error& e) {
    throw InitError(errno_of(e.code()), std::string("read the spec: ") + e.what());
  }
  const ProcessSpec& process = spec.process;
  bool exec_mode = spec.mnt.mode == NamespaceSpec::Mode::join;

  join_cgroups(spec.cgroup_dirs);
  enter_namespaces(spec, exec_mode);
  if (exec_mode && spec.pid.mode == NamespaceSpec::Mode::join) fork_into_pidns();
  apply_sysctls(spec);
  if (spec.mnt.mode == NamespaceSpec::Mode::fresh && !spec.rootfs.empty()) {
    setup_rootfs(spec);
    finish_rootfs(spec);
  }
  apply_rlimits(process.rlimits);
  if (process.oom_score_adj) apply_oom_score_adj(*process.oom_score_adj);
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the user switch may drop:
  // load it first then (as runc does); with no_new_privs, as late as possible.
  if (!process.no_new_privs) load_seccomp(process.seccomp);
  switch_user(process);
  if (::chdir(process.cwd.c_str()) != 0) init_failed("chdir " + process.cwd);
  std::string path = find_executable(process.args[0], process.env);
  if (process.no_new_privs) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) init_failed("prctl(PR_SET_NO_NEW_PRIVS)");
    load_seccomp(process.seccomp);
  }
  // The user switch cleared the parent-death signal: an exec whose waiter died must not linger.
  if (exec_mode && spec.pid.mode == NamespaceSpec::Mode::join && ::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    init_failed("prctl(PR_SET_PDEATHSIG)");
  }

  std::vector<char*> argv, envp;
  for (const auto& a : process.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : process.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::fcntl(kErrorFd, F_SETFD, FD_CLOEXEC);
  ::execve(path.c_str(), argv.data(), envp.data());
  init_failed("exec \"" + process.args[0] + "\"");
}

}  // namespace
}  // namespace vpcri::runtime::container

int main(int argc, char** argv) {
  using namespace vpcri::runtime::container;
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    report(errno, std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno));
    return 1;
  }
  if (argc != 3 || std::strcmp(argv[1], "--spec") != 0) {
    report(EINVAL, "vpcri-init: usage: vpcri-init --spec <init.json>");
    return 2;
  }
  try {
    run(argv[2]);
  } catch (const InitError& e) {
    report(e.err(), e.what());
  } catch (const vpcri::Error& e) {
    report(errno_of(e.code()), e.what());
  } catch (const std::exception& e) {
    report(0, e.what());
  }
  return 1;
}

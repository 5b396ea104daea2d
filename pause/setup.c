/* pause --setup: how vpcrid starts a pod's pause (runtime/container/pause_process.cc). vpcrid
 * spawns this small static binary by vfork and exec, so nothing of the daemon's memory is copied;
 * the setup process joins the pod's namespaces and v1 cgroups, makes the PID namespace, then forks
 * pause itself (a copy of this small process, no second exec) into it and into the pod's cgroup2
 * directory; pause makes its mount and cgroup namespaces, so the latter is rooted at its cgroups.
 *
 *   pause --setup --report FD --pid-out FD --release FD [--netns FD] [--ipc FD] [--uts FD]
 *         [--proc-sys FD --sysctl PATH=VALUE...] [--tasks FD...] [--cgroup2 FD] [--pidns-new]
 *         --root DIR --uid N --gid N
 *
 * --report: a failed step writes {int errno; char step[96]} and the process exits; pause closes
 * its copy once it is set up, so EOF (the setup process closes its own on exit) says "started".
 * --pid-out: pause's pid, written once it exists; the setup process then waits for a byte (or
 * EOF) on --release, so vpcrid can take a pidfd of pause before its pid could be recycled.
 * --tasks: v1 hierarchies' `tasks` files ("0" moves only the calling thread, without the kernel's
 * global threadgroup lock); --cgroup2: the directory pause is cloned into (CLONE_INTO_CGROUP).
 * --proc-sys: /proc/sys (O_PATH), the sysctl paths below it resolved without symlinks.
 * --root: an empty directory; an empty read-only tmpfs is mounted there and becomes pause's root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "setup.h"

/* Kernel ABI that musl's headers lack (no uapi headers there). */
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_capset
#define SYS_capset 126
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#define SETUP_CLONE_INTO_CGROUP 0x200000000ULL
#define SETUP_RESOLVE_NO_MAGICLINKS 0x02
#define SETUP_RESOLVE_NO_SYMLINKS 0x04
#define SETUP_RESOLVE_BENEATH 0x08
#define SETUP_CAP_VERSION_3 0x20080522
#define SETUP_PR_CAP_AMBIENT 47
#define SETUP_PR_CAP_AMBIENT_CLEAR_ALL 4

struct setup_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
struct setup_open_how {
  uint64_t flags, mode, resolve;
};
struct setup_cap_header {
  uint32_t version;
  int pid;
};
struct setup_cap_data {
  uint32_t effective, permitted, inheritable;
};

/* At most as many as vpcrid accepts (cri/server/request_validation.h: max_sysctls). */
enum { MAX_TASKS = 32, MAX_SYSCTLS = 1024 };

struct plan {
  int report, pid_out, release;
  int netns, ipc, uts, proc_sys, cgroup2;
  int tasks[MAX_TASKS];
  int n_tasks;
  const char *sysctls[MAX_SYSCTLS]; /* "path=value", path below /proc/sys */
  int n_sysctls;
  int new_pidns;
  const char *root;
  unsigned long uid, gid;
};

/* The layout vpcrid reads (pause_process.cc, StepFailure). */
struct failure {
  int err;
  char step[96];
};

static int g_report = -1;

static void fail(const char *step) {
  struct failure f;
  memset(&f, 0, sizeof f);
  f.err = errno;
  strncpy(f.step, step, sizeof f.step - 1);
  if (g_report < 0 || write(g_report, &f, sizeof f) < 0) _exit(126);
  _exit(127);
}

static int write_all(int fd, const char *data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    size -= (size_t)n;
  }
  return 0;
}

static int number(const char *s, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0') return -1;
  *out = v;
  return 0;
}

/* Returns 0, or -1 for an argument vpcrid would never pass (reported as EINVAL). */
static int parse(int argc, char **argv, struct plan *p) {
  memset(p, 0, sizeof *p);
  p->report = p->pid_out = p->release = p->netns = p->ipc = p->uts = p->proc_sys = p->cgroup2 = -1;
  int have_uid = 0, have_gid = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--pidns-new") == 0) {
      p->new_pidns = 1;
      continue;
    }
    if (i + 1 >= argc) return -1;
    const char *v = argv[++i];
    unsigned long n = 0;
    int *fd = strcmp(a, "--report") == 0    ? &p->report
              : strcmp(a, "--pid-out") == 0 ? &p->pid_out
              : strcmp(a, "--release") == 0 ? &p->release
              : strcmp(a, "--netns") == 0   ? &p->netns
              : strcmp(a, "--ipc") == 0     ? &p->ipc
              : strcmp(a, "--uts") == 0     ? &p->uts
              : strcmp(a, "--proc-sys") == 0 ? &p->proc_sys
              : strcmp(a, "--cgroup2") == 0 ? &p->cgroup2
              : NULL;
    if (fd != NULL) {
      if (number(v, &n) != 0 || n > 65535) return -1;
      *fd = (int)n;
    } else if (strcmp(a, "--tasks") == 0) {
      if (p->n_tasks == MAX_TASKS || number(v, &n) != 0 || n > 65535) return -1;
      p->tasks[p->n_tasks++] = (int)n;
    } else if (strcmp(a, "--sysctl") == 0) {
      if (p->n_sysctls == MAX_SYSCTLS || strchr(v, '=') == NULL) return -1;
      p->sysctls[p->n_sysctls++] = v;
    } else if (strcmp(a, "--root") == 0) {
      p->root = v;
    } else if (strcmp(a, "--uid") == 0) {
      if (number(v, &p->uid) != 0) return -1;
      have_uid = 1;
    } else if (strcmp(a, "--gid") == 0) {
      if (number(v, &p->gid) != 0) return -1;
      have_gid = 1;
    } else {
      return -1;
    }
  }
  if (p->report < 0 || p->pid_out < 0 || p->release < 0 || p->root == NULL || !have_uid || !have_gid) return -1;
  if (p->n_sysctls > 0 && p->proc_sys < 0) return -1;
  return 0;
}

/* /proc/sys/net and the IPC sysctls resolve to the namespaces of whoever opens them: ours now. */
static void write_sysctls(const struct plan *p) {
  for (int i = 0; i < p->n_sysctls; i++) {
    char path[256];
    const char *eq = strchr(p->sysctls[i], '=');
    size_t len = (size_t)(eq - p->sysctls[i]);
    if (len >= sizeof path) {
      errno = ENAMETOOLONG;
      fail("open a pod sysctl");
    }
    memcpy(path, p->sysctls[i], len);
    path[len] = '\0';
    struct setup_open_how how = {O_WRONLY | O_TRUNC | O_CLOEXEC, 0,
                                 SETUP_RESOLVE_BENEATH | SETUP_RESOLVE_NO_SYMLINKS | SETUP_RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, p->proc_sys, path, &how, sizeof how);
    if (fd < 0) fail("open a pod sysctl");
    int ok = write_all(fd, eq + 1, strlen(eq + 1)) == 0;
    close(fd);
    if (!ok) fail("write a pod sysctl");
  }
}

/* pause itself, in the pod's cgroups: its own namespaces, root, privileges, then back to main's
 * loop. */
static void become_pause(const struct plan *p) {
  /* ... and its cgroup namespace is made here, once pause is in all of the pod's cgroups (the
   * cgroup2 one by its clone), so that it is rooted there, as every container's is. */
  if (unshare(CLONE_NEWNS | CLONE_NEWCGROUP) != 0) fail("unshare mount/cgroup namespaces");
  /* Private first: unmounting the host's tree below must not propagate back to the host. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("make the mount tree private");
  if (mount("tmpfs", p->root, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") != 0) {
    fail("mount pause's empty root");
  }
  /* An empty read-only root: the host's mounts (copied into this namespace) are detached whole. */
  if (chdir(p->root) != 0) fail("chdir to pause's root");
  if (syscall(SYS_pivot_root, ".", ".") != 0) fail("pivot_root into pause's root");
  if (umount2(".", MNT_DETACH) != 0) fail("detach the host's mounts");
  if (chdir("/") != 0) fail("chdir /");
  /* Every capability goes: bounding set (while CAP_SETPCAP is still held), ambient, then the
   * user switch and the remaining sets; no_new_privs keeps it so. */
  for (int cap = 0; cap <= 63; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break; /* past the kernel's last capability */
      fail("drop the capability bounding set");
    }
  }
  if (prctl(SETUP_PR_CAP_AMBIENT, SETUP_PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) fail("clear ambient capabilities");
  if (syscall(SYS_setgroups, 0, NULL) != 0) fail("setgroups");
  if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) != 0) fail("setgid");
  if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) != 0) fail("setuid");
  struct setup_cap_header header = {SETUP_CAP_VERSION_3, 0};
  struct setup_cap_data none[2];
  memset(none, 0, sizeof none);
  if (syscall(SYS_capset, &header, none) != 0) fail("drop capabilities");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("prctl(PR_SET_NO_NEW_PRIVS)");
  /* The setuid reset the dumpable flag only to the default of a credential change: set it again. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fail("prctl(PR_SET_DUMPABLE)");
  /* Nothing of the setup may stay open in pause: the report pipe's EOF says "started". */
  if (syscall(SYS_close_range, 3U, ~0U, 0) != 0) fail("close inherited files");
}

int pause_setup(int argc, char **argv) {
  struct plan p;
  if (parse(argc, argv, &p) != 0) {
    errno = EINVAL;
    for (int i = 2; i + 1 < argc; i++) {
      if (strcmp(argv[i], "--report") == 0) g_report = atoi(argv[i + 1]);
    }
    fail("pause --setup: bad arguments");
  }
  g_report = p.report;
  /* The name every tool shows for pause (vpcrid runs this file through /proc/self/fd/N). */
  prctl(PR_SET_NAME, "pause", 0, 0, 0);
  if (setsid() < 0) fail("setsid");
  if (p.netns >= 0 && setns(p.netns, CLONE_NEWNET) != 0) fail("join the pod's network namespace");
  if (p.ipc >= 0 && setns(p.ipc, CLONE_NEWIPC) != 0) fail("join the pod's IPC namespace");
  if (p.uts >= 0 && setns(p.uts, CLONE_NEWUTS) != 0) fail("join the pod's UTS namespace");
  write_sysctls(&p);
  for (int i = 0; i < p.n_tasks; i++) {
    if (write_all(p.tasks[i], "0", 1) != 0) fail("join the pod cgroup");
  }
  /* pause is pid 1 of a new PID namespace (it applies to children) ... */
  if (p.new_pidns && unshare(CLONE_NEWPID) != 0) fail("unshare the PID namespace");
  struct setup_clone_args args;
  memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  if (p.cgroup2 >= 0) {
    args.flags = SETUP_CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)p.cgroup2;
  }
  pid_t pause = (pid_t)syscall(SYS_clone3, &args, sizeof args);
  if (pause < 0) fail(p.cgroup2 >= 0 ? "clone pause into the pod's cgroup2 directory" : "fork pause");
  if (pause == 0) {
    become_pause(&p);
    /* /proc/<pid>/cmdline shows pause's arguments: keep only argv[0] ("/pause"). The area's last
     * byte made non-NUL is how the kernel learns to stop at the first NUL (as setproctitle does). */
    char *end = argv[argc - 1] + strlen(argv[argc - 1]);
    memset(argv[1], 0, (size_t)(end - argv[1]));
    *end = ' ';
    return 0;
  }
  if (write_all(p.pid_out, (const char *)&pause, sizeof pause) != 0) _exit(1);
  char byte;
  while (read(p.release, &byte, 1) < 0 && errno == EINTR) {
  }
  _exit(0);
}

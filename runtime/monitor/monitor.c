/* vpcri-monitor: the per-container process that outlives vpcrid (docs/ARCHITECTURE.md, "Process
 * model"). It starts the container's first process, writes its stdout/stderr to the CRI log file,
 * reopens that file on SIGUSR1, and records how the process ended in <state>/exit.
 *
 *   vpcri-monitor --state DIR [--log PATH [--log-dir DIR]] [--sync-fd N] [--max-line BYTES] [--cgroup DIR]
 *                 [--into-cgroup DIR] [--detach]
 *                 [--pidns new|PATH] [--init-pipe] [--exec-fd N] [--stdin] [--tty] [--stdin-once] -- ARGV...
 *
 * State files (key=value lines, each replaced atomically):
 *   <state>/monitor     pid, start_time of this monitor          (written first)
 *   <state>/pid         pid, start_time, started_at[_ns] of the container process (right after fork)
 *   <state>/exit        exit_code, signal, oom, finished_at[_ns], reason, message (before exiting)
 *   <state>/log-reopen  count, error: result of the latest SIGUSR1 reopen
 *   <state>/lock        flock'ed for the monitor's whole life: a second monitor refuses
 *   <state>/attach      the attach socket (attach_protocol.h), while the container runs
 * --sync-fd (a socket from the spawner) gets one line, "ok" once the command runs or
 * "error <errno> <message>" (the message complete, reason included), and the monitor does not
 * exit before the spawner closes its end, so the spawner can always open a pidfd for it.
 *
 * --log: the CRI log file, opened (and created, with missing directories) beneath --log-dir
 * (default: the directory it is in) without following any symlink there (log_file.h).
 *
 * --stdin, --tty, --stdin-once (the CRI ContainerConfig's fields): the monitor owns the
 * container's stdio for its whole life, so Attach reaches it across vpcrid restarts. --tty: a pty
 * whose slave is the process's stdin, stdout, stderr and controlling terminal; the monitor holds
 * the master and logs what it yields as stdout (as containerd). --stdin without a tty: a pipe whose
 * write end the monitor keeps open (the process waits for input rather than seeing EOF). Without
 * --stdin, stdin is /dev/null (with a tty: the pty, which nobody writes to). --stdin-once: the
 * container's stdin is closed when the first attacher that sent stdin leaves.
 *
 * --detach: the monitor leaves the process that started it first thing (a session of its own,
 * then a fork whose parent exits), so init or the nearest subreaper is its parent and it outlives
 * the daemon. The daemon starts it by vfork and exec (posix_spawn), which copies nothing of the
 * daemon's memory, and reaps the parent that exits here.
 *
 * --into-cgroup: the cgroup2 directory the container process is cloned into (clone3 with
 * CLONE_INTO_CGROUP): it never runs outside it, and no write to cgroup.procs makes it wait on the
 * kernel's global threadgroup lock (runtime/container/cgroup_entry.h).
 *
 * --pidns: the container process is forked into a new PID namespace ("new": it is that
 * namespace's pid 1) or into the one at PATH (a pinned pod namespace, or /proc/<pid>/ns/pid).
 *
 * --init-pipe: the command (vpcri-init) finds the write end of the start-error pipe at fd 3,
 * the one fd above stdio it inherits. It writes a 4-byte errno and an optional UTF-8 message
 * (up to INIT_MESSAGE_MAX bytes) when a setup step fails, then exits; a successful execve of
 * the user's command closes it (vpcri-init sets it close-on-exec last) and EOF says "started".
 * Without --init-pipe only the monitor's own execve of ARGV reports through it.
 *
 * --exec-fd: the command is the program open at fd N (vpcri-init opened through a private
 * read-only mount: runtime/container/readonly_binary.h, so whoever reaches it through
 * /proc/<pid>/exe cannot open it for writing), executed with execveat(AT_EMPTY_PATH); ARGV[0]
 * only names it.
 *
 * /proc/self/exe (CVE-2019-5736): the monitor runs from its host file and is never in a
 * container's PID namespace itself (setns/unshare of a PID namespace applies to children only),
 * so no container lists it in its /proc. But its child is in the container's namespace between
 * fork and execve, with the monitor's file as /proc/<pid>/exe: a process of another container of
 * a pod sharing its PID namespace could open it then, and overwrite the host's vpcri-monitor once
 * no monitor runs any more. So the monitor makes itself non-dumpable first thing (the child
 * inherits that until its execve): /proc/<pid>/exe, fd/, mem... of both then need
 * CAP_SYS_PTRACE, which containers do not get.
 *
 * Static C without allocation: < 1 MiB RSS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach_server.h"
#include "cri_log.h"
#include "log_file.h"
#include "oom_watch.h"
#include "state_file.h"

#ifdef __SANITIZE_ADDRESS__
/* Sanitizer builds only. LeakSanitizer's exit-time check ptraces the process from a helper
 * thread, which --pidns puts in the container's PID namespace, where PR_SET_PTRACER cannot name
 * it: the check then spins forever. vpcri passes the monitor no environment, so this default is
 * the one place to turn it off. The monitor's allocations all live until it exits. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
/* clone3's ABI, which musl's headers lack (no kernel uapi headers there). */
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define MONITOR_CLONE_INTO_CGROUP 0x200000000ULL
struct monitor_clone_args {
  unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
      cgroup;
};

/* The exit code CRI runtimes report when the command could not be started (containerd: StartError). */
enum { START_ERROR_EXIT_CODE = 128, DEFAULT_MAX_LINE = 16 * 1024, SPAWNER_WAIT_MS = 60 * 1000 };
/* The init pipe's fd in the container process, and the longest message read from it. */
enum { INIT_PIPE_FD = 3, INIT_MESSAGE_MAX = 1024 };

struct options {
  const char *state;
  const char *log;
  const char *log_dir;
  const char *cgroup;
  const char *into_cgroup;
  const char *pidns; /* NULL: the monitor's own; "new"; or a namespace file */
  int init_pipe;
  int stdin_open; /* --stdin */
  int tty;
  int stdin_once;
  int detach;
  int exec_fd;
  int sync_fd;
  size_t max_line;
  char **argv;
};

static int sync_fd = -1;

/* Reports a failure to the spawner (and to stderr, for a human running the monitor by hand).
 * `message` is complete: nothing is appended to it. */
static void report_message(int err, const char *message) {
  char line[INIT_MESSAGE_MAX + 64];
  int n = snprintf(line, sizeof line, "error %d %s", err, message);
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  for (int i = 0; i < n; i++) { /* one line, whatever the message holds */
    if (line[i] == '\n') line[i] = ' ';
  }
  line[n++] = '\n';
  if (sync_fd >= 0 && write(sync_fd, line, (size_t)n) < 0) {
    /* nobody to tell */
  }
  fprintf(stderr, "vpcri-monitor: %s\n", message);
}

/* "<what>: <strerror(err)>", or just `what` when err is 0. */
static void report_error(int err, const char *what) {
  char message[PATH_MAX + 256];
  snprintf(message, sizeof message, "%s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
  report_message(err, message);
}

static void usage_error(const char *what) {
  report_error(0, what);
  fprintf(stderr,
          "usage: vpcri-monitor --state DIR [--log PATH] [--sync-fd N] [--max-line BYTES] [--cgroup DIR]"
          " [--into-cgroup DIR] [--detach] [--pidns new|PATH] [--init-pipe] [--exec-fd N] [--stdin] [--tty] [--stdin-once] -- ARGV...\n");
  exit(2);
}

static unsigned long parse_number(const char *s, const char *flag) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0') {
    char what[256];
    snprintf(what, sizeof what, "%s needs a number, got \"%s\"", flag, s);
    usage_error(what);
  }
  return v;
}

static void parse_options(int argc, char **argv, struct options *o) {
  o->sync_fd = -1;
  o->exec_fd = -1;
  o->max_line = DEFAULT_MAX_LINE;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "--version") == 0) {
      printf("vpcri-monitor " VPCRI_VERSION "\n");
      exit(0);
    }
    int *flag = strcmp(a, "--init-pipe") == 0    ? &o->init_pipe
                : strcmp(a, "--stdin") == 0      ? &o->stdin_open
                : strcmp(a, "--tty") == 0        ? &o->tty
                : strcmp(a, "--stdin-once") == 0 ? &o->stdin_once
                : strcmp(a, "--detach") == 0     ? &o->detach
                                                 : NULL;
    if (flag != NULL) { /* options without a value */
      *flag = 1;
      continue;
    }
    if (i + 1 >= argc) usage_error("missing value or command after an option");
    const char *v = argv[++i];
    if (strcmp(a, "--state") == 0) {
      o->state = v;
    } else if (strcmp(a, "--log") == 0) {
      o->log = v;
    } else if (strcmp(a, "--log-dir") == 0) {
      o->log_dir = v;
    } else if (strcmp(a, "--cgroup") == 0) {
      o->cgroup = v;
    } else if (strcmp(a, "--into-cgroup") == 0) {
      o->into_cgroup = v;
    } else if (strcmp(a, "--pidns") == 0) {
      o->pidns = v;
    } else if (strcmp(a, "--sync-fd") == 0) {
      o->sync_fd = (int)parse_number(v, a);
      sync_fd = o->sync_fd;
    } else if (strcmp(a, "--exec-fd") == 0) {
      o->exec_fd = (int)parse_number(v, a);
      if (o->exec_fd <= INIT_PIPE_FD) usage_error("--exec-fd must be above 3 (stdio and the init pipe)");
    } else if (strcmp(a, "--max-line") == 0) {
      o->max_line = parse_number(v, a);
      if (o->max_line == 0 || o->max_line > 1024 * 1024) usage_error("--max-line must be 1..1048576");
    } else {
      char what[256];
      snprintf(what, sizeof what, "unknown option \"%s\"", a);
      usage_error(what);
    }
  }
  if (o->state == NULL || o->state[0] != '/') usage_error("--state must be an absolute path");
  if (o->log != NULL && o->log[0] != '/') usage_error("--log must be an absolute path");
  if (o->log_dir != NULL && (o->log == NULL || o->log_dir[0] != '/')) {
    usage_error("--log-dir must be an absolute path, and needs --log");
  }
  if (o->pidns != NULL && strcmp(o->pidns, "new") != 0 && o->pidns[0] != '/') {
    usage_error("--pidns must be \"new\" or an absolute path");
  }
  if (i >= argc) usage_error("no command given after --");
  o->argv = argv + i;
}

/* -1 with errno and `*why` set on failure (and when there is no log: errno 0). */
static int open_log(const struct options *o, const char **why) {
  *why = "";
  if (o->log == NULL) {
    errno = 0;
    return -1;
  }
  return log_file_open(o->log_dir, o->log, why);
}

/* The container's stdio: the child's ends, and the monitor's. */
struct container_stdio {
  int child_in, child_out, child_err; /* dup'ed to 0, 1, 2 in the child, then closed here */
  int out_r, err_r;                   /* what the monitor logs: pipes, or the pty master (err_r -1) */
  int stdin_w;                        /* the monitor's end of stdin (nonblocking), -1 without --stdin */
  int master;                         /* the pty master, -1 without --tty */
};

/* Sets up `io` as the options ask. -1 with errno on failure. */
static int open_stdio(const struct options *o, struct container_stdio *io) {
  memset(io, -1, sizeof *io);
  if (o->tty) {
    io->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    char name[64];
    if (io->master < 0 || grantpt(io->master) != 0 || unlockpt(io->master) != 0 ||
        ptsname_r(io->master, name, sizeof name) != 0) {
      return -1;
    }
    int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) return -1;
    io->child_in = io->child_out = io->child_err = slave;
    io->out_r = io->master;
    if (o->stdin_open) io->stdin_w = io->master;
    return 0;
  }
  int out[2], err[2], in[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return -1;
  io->out_r = out[0];
  io->child_out = out[1];
  io->err_r = err[0];
  io->child_err = err[1];
  if (o->stdin_open) {
    if (pipe2(in, O_CLOEXEC) != 0) return -1;
    io->child_in = in[0];
    io->stdin_w = in[1];
    fcntl(io->stdin_w, F_SETFL, O_NONBLOCK);
  } else {
    io->child_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (io->child_in < 0) return -1;
  }
  return 0;
}

/* After fork: the child's ends are its own now. */
static void close_child_ends(struct container_stdio *io) {
  close(io->child_in);
  if (io->child_out != io->child_in) close(io->child_out);
  if (io->child_err != io->child_in) close(io->child_err);
  io->child_in = io->child_out = io->child_err = -1;
}

/* Runs in the forked child: becomes the container's first process with nothing of the monitor
 * left but stdio (and, with init_pipe, the start-error pipe at INIT_PIPE_FD). Every other fd
 * above 2 is closed on exec (the CVE-2024-21626 class: a leaked fd is a way out of the
 * container), signals are back to their defaults. */
static void exec_child(char **argv, int exec_fd, int in, int out, int err, int tty, int exec_err, int init_pipe) {
  setsid();
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) goto fail;
  if (tty && ioctl(0, TIOCSCTTY, 0) != 0) goto fail; /* the pty slave: our controlling terminal */
  if (init_pipe) { /* after stdio: fd 3 may have held one of them */
    if (dup2(exec_err, INIT_PIPE_FD) < 0) goto fail;
    exec_err = INIT_PIPE_FD;
  }
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    struct rlimit rl;
    int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    for (int fd = 3; fd < max; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (init_pipe && fcntl(INIT_PIPE_FD, F_SETFD, 0) != 0) goto fail;
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (exec_fd >= 0) {
    /* close-on-exec by now, which execveat allows for a binary (not for a script) */
    syscall(SYS_execveat, exec_fd, "", argv, environ, AT_EMPTY_PATH);
  } else {
    execv(argv[0], argv);
  }
fail:;
  int e = errno;
  if (write(exec_err, &e, sizeof e) < 0) {
    /* the monitor sees EOF without an errno and reports an unknown start failure */
  }
  _exit(127);
}

/* --detach (see the top of this file). Returns in the detached process. */
static void detach(void) {
  if (setsid() < 0) {
    report_error(errno, "setsid");
    exit(1);
  }
  pid_t pid = fork();
  if (pid < 0) {
    report_error(errno, "fork to detach");
    exit(1);
  }
  if (pid > 0) _exit(0);
}

/* fork(), into the cgroup2 directory open at `cgroup_fd` when >= 0. The monitor is
 * single-threaded, and the raw syscall's child (exec_child) makes no call that needs the thread
 * id libc caches, which only libc's own fork would update. */
static pid_t fork_child(int cgroup_fd) {
  if (cgroup_fd < 0) return fork();
  struct monitor_clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = MONITOR_CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = (unsigned long long)cgroup_fd;
  return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

/* Joins or creates the PID namespace the next fork's child lands in (the monitor itself stays
 * where it is: CLONE_NEWPID only affects children). Returns 0, or -1 after reporting. */
static int enter_pidns(const char *pidns) {
  char what[PATH_MAX + 64];
  if (pidns == NULL) return 0;
  if (strcmp(pidns, "new") == 0) {
    if (unshare(CLONE_NEWPID) == 0) return 0;
    report_error(errno, "unshare(CLONE_NEWPID)");
    return -1;
  }
  int fd = open(pidns, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWPID) != 0) {
    int e = errno;
    snprintf(what, sizeof what, "%s PID namespace %s", fd < 0 ? "open" : "join", pidns);
    if (fd >= 0) close(fd);
    report_error(e, what);
    return -1;
  }
  close(fd);
  return 0;
}

/* Reads the start-error pipe to its end: -1 when it closed empty (the command runs), else the
 * errno (0 if unknown) with the writer's message, NUL-terminated and on one line, in `message`
 * ("" when it sent none). */
static int read_start_error(int fd, char *message, size_t size) {
  char buf[sizeof(int) + INIT_MESSAGE_MAX];
  size_t got = 0;
  for (;;) {
    char discard[256];
    int full = got == sizeof buf;
    ssize_t n = full ? read(fd, discard, sizeof discard) : read(fd, buf + got, sizeof buf - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!full) got += (size_t)n;
  }
  message[0] = '\0';
  if (got == 0) return -1;
  if (got < sizeof(int)) return EIO;
  int err;
  memcpy(&err, buf, sizeof err);
  size_t len = got - sizeof err;
  if (len > size - 1) len = size - 1;
  memcpy(message, buf + sizeof err, len);
  message[len] = '\0';
  for (char *c = message; *c; c++) {
    if (*c == '\n' || *c == '\r') *c = ' ';
  }
  return err < 0 ? 0 : err;
}

static void now_rfc3339(char out[RFC3339NANO_LEN], long long *ns) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  format_rfc3339nano(&ts, out);
  if (ns) *ns = timespec_ns(&ts);
}

static void write_exit(const char *state, int exit_code, int sig, int oom, const char *reason,
                       const char *message) {
  char finished[RFC3339NANO_LEN], content[1536], flat[1024];
  long long ns;
  /* One line per key: a newline in the message (say, from the command's name) must not split it. */
  snprintf(flat, sizeof flat, "%s", message);
  for (char *c = flat; *c; c++) {
    if (*c == '\n') *c = ' ';
  }
  now_rfc3339(finished, &ns);
  snprintf(content, sizeof content,
           "exit_code=%d\nsignal=%d\noom=%d\nfinished_at=%s\nfinished_at_ns=%lld\nreason=%s\nmessage=%s\n",
           exit_code, sig, oom, finished, ns, reason, flat);
  int err = state_write(state, "exit", content);
  if (err) fprintf(stderr, "vpcri-monitor: writing %s/exit: %s\n", state, strerror(-err));
}

static void write_reopen_result(const char *state, unsigned long count, const char *path, int err,
                                const char *why) {
  char content[PATH_MAX + 512];
  const char *error = err == 0 ? "" : path == NULL ? "the container has no log file" : strerror(err);
  snprintf(content, sizeof content, "count=%lu\npath=%s\nerrno=%d\nerror=%s%s%s\n", count, path ? path : "", err,
           why[0] ? why : "", why[0] && error[0] ? ": " : "", error);
  state_write(state, "log-reopen", content);
}

struct stream {
  struct cri_stream cri;
  int fd;          /* read end of the container's pipe (or the pty master), -1 once it is closed */
  int attach_type; /* ATTACH_STDOUT or ATTACH_STDERR */
};

/* Reads one chunk (or, with `drain`, all that is buffered) of a pipe into the log; closes the
 * pipe at end of stream. One chunk per wake-up keeps a chatty stream from starving the other. */
static void pump(const struct cri_log *log, struct attach_server *attach, struct stream *s, int drain) {
  for (;;) {
    ssize_t n = read(s->fd, cri_stream_space(&s->cri), cri_stream_room(log, &s->cri));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n > 0) attach_broadcast(attach, s->attach_type, cri_stream_space(&s->cri), (size_t)n);
    char now[RFC3339NANO_LEN];
    now_rfc3339(now, NULL);
    int eof = n <= 0;
    cri_log_consume(log, &s->cri, eof ? 0 : (size_t)n, eof, now);
    if (eof) {
      close(s->fd);
      s->fd = -1;
      return;
    }
    if (!drain) return;
  }
}

int main(int argc, char **argv) {
  /* Before anything else (see the top of this file). */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    perror("vpcri-monitor: prctl(PR_SET_DUMPABLE)");
    return 1;
  }
  struct options opt;
  memset(&opt, 0, sizeof opt);
  /* Make sure fds 0-2 exist, so no pipe below lands on them and gets clobbered by dup2. */
  for (int fd = open("/dev/null", O_RDWR); fd >= 0 && fd <= 2; fd = open("/dev/null", O_RDWR)) {
  }
  parse_options(argc, argv, &opt);
  if (opt.detach) detach();
  if (chdir("/") != 0) {
    /* not fatal: only keeps a mount point busy */
  }

  /* The daemon signals the container, never the monitor: it ignores the usual stop signals and
   * lives exactly as long as the container. SIGCHLD and SIGUSR1 arrive through a signalfd. */
  signal(SIGCHLD, SIG_DFL); /* an inherited SIG_IGN would make the kernel reap the container for us */
  signal(SIGUSR1, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  sigaddset(&handled, SIGUSR1);
  sigprocmask(SIG_BLOCK, &handled, NULL);
  int sigfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) {
    report_error(errno, "signalfd");
    return 1;
  }
  /* Orphans of the container are reparented here rather than to the host's init. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    report_error(errno, "prctl(PR_SET_CHILD_SUBREAPER)");
    return 1;
  }

  char content[512], what[PATH_MAX + 64];
  /* One monitor per state directory, ever at once: <state>/lock is held (flock) for this
   * monitor's whole life, so a second one (a retried start after a crash) refuses here, and
   * vpcrid can tell a live monitor from a dead one before the pid files exist. */
  snprintf(what, sizeof what, "%s/lock", opt.state);
  int lock_fd = open(what, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int lock_err = errno;
    if (lock_fd >= 0 && lock_err == EWOULDBLOCK) {
      /* EBUSY tells vpcrid that we touched nothing: what the directory records is the other
       * monitor's, and must not be stopped as if this start had left it behind. */
      snprintf(what, sizeof what, "state directory %s is locked by another vpcri-monitor", opt.state);
      report_message(EBUSY, what);
    } else {
      snprintf(what, sizeof what, "lock %s", opt.state);
      report_error(lock_err, what);
    }
    return 1;
  }
  snprintf(what, sizeof what, "%s/exit", opt.state);
  if (access(what, F_OK) == 0) {
    snprintf(what, sizeof what, "state directory %s already holds an exit file: the container ran before",
             opt.state);
    report_message(EEXIST, what);
    return 1;
  }
  snprintf(content, sizeof content, "pid=%d\nstart_time=%llu\n", (int)getpid(), proc_start_time(getpid()));
  int err = state_write(opt.state, "monitor", content);
  if (err) {
    snprintf(what, sizeof what, "write %s/monitor", opt.state);
    report_error(-err, what);
    return 1;
  }

  const char *why;
  struct cri_log log = {open_log(&opt, &why), opt.max_line};
  if (opt.log != NULL && log.fd < 0) {
    int e = errno;
    snprintf(what, sizeof what, "open log file %s%s%s", opt.log, why[0] ? ": " : "", why);
    report_error(e, what);
    return 1;
  }
  struct container_stdio io;
  int exec_err[2];
  if (open_stdio(&opt, &io) != 0 || pipe2(exec_err, O_CLOEXEC) != 0) {
    report_error(errno, opt.tty ? "create the container's pty" : "create the container's stdio pipes");
    return 1;
  }
  static struct attach_server attach; /* static: its stdin buffer stays off the stack */
  err = attach_listen(&attach, opt.state, io.stdin_w, io.master, opt.stdin_once);
  if (err) {
    snprintf(what, sizeof what, "listen on %s/%s", opt.state, ATTACH_SOCKET_NAME);
    report_error(-err, what);
    return 1;
  }

  int cgroup_fd = -1;
  if (opt.into_cgroup != NULL && (cgroup_fd = open(opt.into_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
    snprintf(what, sizeof what, "open cgroup directory %s", opt.into_cgroup);
    report_error(errno, what);
    return 1;
  }
  if (enter_pidns(opt.pidns) != 0) return 1;

  char started[RFC3339NANO_LEN];
  long long started_ns;
  now_rfc3339(started, &started_ns);
  pid_t child = fork_child(cgroup_fd);
  if (child < 0) {
    if (cgroup_fd >= 0) {
      snprintf(what, sizeof what, "clone the container process into cgroup %s", opt.into_cgroup);
      report_error(errno, what);
    } else {
      report_error(errno, "fork the container process");
    }
    return 1;
  }
  if (child == 0) exec_child(opt.argv, opt.exec_fd, io.child_in, io.child_out, io.child_err, opt.tty, exec_err[1], opt.init_pipe);
  if (opt.exec_fd >= 0) close(opt.exec_fd);
  if (cgroup_fd >= 0) close(cgroup_fd);
  close_child_ends(&io);
  close(exec_err[1]);

  snprintf(content, sizeof content, "pid=%d\nstart_time=%llu\nstarted_at=%s\nstarted_at_ns=%lld\n", (int)child,
           proc_start_time(child), started, started_ns);
  err = state_write(opt.state, "pid", content);
  if (err) { /* a container nobody could find again must not run */
    kill(child, SIGKILL);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    snprintf(what, sizeof what, "write %s/pid", opt.state);
    report_error(-err, what);
    return 1;
  }

  /* The exec_err pipe closes on a successful exec, or carries the errno (and, from vpcri-init,
   * a message) of a failed start. */
  char message[INIT_MESSAGE_MAX + PATH_MAX + 64];
  int exec_errno = read_start_error(exec_err[0], message, sizeof message);
  close(exec_err[0]);
  if (exec_errno >= 0) {
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    if (message[0] == '\0') {
      snprintf(message, sizeof message, "exec \"%s\": %s", opt.argv[0],
               exec_errno ? strerror(exec_errno) : "the process exited before it could start");
    }
    attach_shutdown(&attach, opt.state);
    write_exit(opt.state, START_ERROR_EXIT_CODE, 0, 0, "StartError", message);
    report_message(exec_errno, message);
    return 1;
  }
  if (sync_fd >= 0 && write(sync_fd, "ok\n", 3) != 3) {
    close(sync_fd); /* the spawner is gone; it will adopt us from the state files */
    sync_fd = -1;
  }

  static char out_buf[DEFAULT_MAX_LINE + 1], err_buf[DEFAULT_MAX_LINE + 1];
  struct stream streams[2] = {
      {{"stdout", out_buf, 0}, io.out_r, ATTACH_STDOUT},
      {{"stderr", err_buf, 0}, io.err_r, ATTACH_STDERR},
  };
  if (opt.max_line > DEFAULT_MAX_LINE) {
    /* Only a non-default line size costs heap; the default stays in (untouched) static storage. */
    streams[0].cri.buf = malloc(opt.max_line + 1);
    streams[1].cri.buf = malloc(opt.max_line + 1);
    if (!streams[0].cri.buf || !streams[1].cri.buf) {
      fprintf(stderr, "vpcri-monitor: no memory for %zu-byte log lines\n", opt.max_line);
      streams[0].cri.buf = out_buf;
      streams[1].cri.buf = err_buf;
      log.max_line = DEFAULT_MAX_LINE;
    }
  }
  for (int i = 0; i < 2; i++) {
    if (streams[i].fd >= 0) fcntl(streams[i].fd, F_SETFL, O_NONBLOCK);
  }

  struct oom_watch oom_events;
  oom_watch_open(&oom_events, opt.cgroup);
  unsigned long reopens = 0;
  int status = 0, exited = 0;
  while (!exited) {
    struct pollfd p[5 + ATTACH_POLL_FDS] = {{sigfd, POLLIN, 0},
                                            {streams[0].fd, POLLIN, 0},
                                            {streams[1].fd, POLLIN, 0},
                                            {sync_fd, POLLIN, 0},
                                            {oom_watch_fd(&oom_events), POLLIN, 0}};
    attach_poll_fds(&attach, p + 5);
    if (poll(p, 5 + ATTACH_POLL_FDS, -1) < 0) continue;
    if (p[4].revents) oom_watch_handle(&oom_events);
    for (int i = 0; i < 2; i++) {
      if (p[1 + i].revents) pump(&log, &attach, &streams[i], 0);
    }
    attach_handle(&attach, p + 5);
    if (p[3].revents) { /* the spawner has closed its end (or died): nothing more to wait for */
      close(sync_fd);
      sync_fd = -1;
    }
    if (p[0].revents) {
      struct signalfd_siginfo si;
      int reopen = 0;
      while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1) reopen = 1;
      }
      if (reopen) {
        int fd = open_log(&opt, &why);
        int reopen_err = fd >= 0 ? 0 : opt.log == NULL ? EINVAL : errno;
        if (fd >= 0) { /* on failure keep writing to the old file: nothing is lost */
          if (log.fd >= 0) close(log.fd);
          log.fd = fd;
        }
        write_reopen_result(opt.state, ++reopens, opt.log, reopen_err, fd >= 0 ? "" : why);
      }
      /* Reap everything: the container and any orphan reparented to us. */
      for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) break;
        if (pid == child) {
          status = st;
          exited = 1;
          oom_watch_handle(&oom_events); /* before systemd can remove an emptied scope's cgroup */
        }
      }
    }
  }

  /* What the container wrote before exiting is still in the pipes: log it, then its end. */
  for (int i = 0; i < 2; i++) {
    if (streams[i].fd >= 0) pump(&log, &attach, &streams[i], 1);
    if (streams[i].fd >= 0) { /* a descendant still holds the pipe: end the record here */
      char now[RFC3339NANO_LEN];
      now_rfc3339(now, NULL);
      cri_log_consume(&log, &streams[i].cri, 0, 1, now);
    }
  }
  attach_shutdown(&attach, opt.state); /* every attacher sees EOF once it has all the output */
  int oom = oom_watch_finish(&oom_events);
  if (WIFSIGNALED(status)) {
    write_exit(opt.state, 128 + WTERMSIG(status), WTERMSIG(status), oom, oom ? "OOMKilled" : "Error", "");
  } else {
    int code = WEXITSTATUS(status);
    write_exit(opt.state, code, 0, oom, oom ? "OOMKilled" : code == 0 ? "Completed" : "Error", "");
  }

  if (sync_fd >= 0) { /* the spawner has not taken its pidfd for us yet: let it */
    struct pollfd p = {sync_fd, POLLIN, 0};
    while (poll(&p, 1, SPAWNER_WAIT_MS) < 0 && errno == EINTR) {
    }
  }
  return 0;
}

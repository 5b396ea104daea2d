#include "runtime/container/exec_process.h"

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/container/init_child.h"

namespace vpcri::runtime::container {
namespace {

UniqueFd above_child_fds(int fd, const char* what) { return above_init_child_fds(UniqueFd(fd), what); }

void make_pipe(UniqueFd& read_end, UniqueFd& write_end, const char* what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(std::string("pipe for ") + what);
  read_end = above_child_fds(fds[0], what);
  write_end = above_child_fds(fds[1], what);
}

// vpcri-init's report: empty when the command was executed (the pipe closed on execve).
std::string read_start_report(int fd) {
  std::string report;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || report.size() > 4096) return report;
    report.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

std::unique_ptr<ExecProcess> ExecProcess::start(const Binaries& bin, const InitSpec& spec, const ExecIo& io,
                                                int ns_pidfd) {
  std::unique_ptr<ExecProcess> p(new ExecProcess());
  p->tty_ = io.tty;
  require_init_fd(bin);
  InitChildSpec prepared = prepare_init_child(spec, ns_pidfd >= 0);
  UniqueFd init = above_child_fds(::fcntl(bin.init_fd, F_DUPFD_CLOEXEC, 0), "dup the read-only vpcri-init");
  UniqueFd pidfd;
  if (ns_pidfd >= 0) pidfd = above_child_fds(::fcntl(ns_pidfd, F_DUPFD_CLOEXEC, 0), "dup the container's pidfd");
  UniqueFd devnull = above_child_fds(::open("/dev/null", O_RDWR | O_CLOEXEC), "open /dev/null");
  UniqueFd child_in, child_out, child_err, slave, start_read, start_write;
  make_pipe(start_read, start_write, "exec start errors");
  if (io.tty) {
    int master = -1, slave_fd = -1;
    winsize ws{io.height, io.width, 0, 0};
    if (::openpty(&master, &slave_fd, nullptr, nullptr, io.width && io.height ? &ws : nullptr) != 0) {
      throw_errno("openpty for exec");
    }
    p->master_ = above_child_fds(master, "pty master");
    slave = above_child_fds(slave_fd, "pty slave");
  } else {
    if (io.stdin) make_pipe(child_in, p->stdin_, "exec stdin");
    if (io.stdout) make_pipe(p->stdout_, child_out, "exec stdout");
    if (io.stderr) make_pipe(p->stderr_, child_err, "exec stderr");
  }
  auto pick = [&](const UniqueFd& fd) { return io.tty ? slave.get() : fd ? fd.get() : devnull.get(); };
  const int fds[kInitChildFds] = {pick(child_in), pick(child_out), pick(child_err), start_write.get(), prepared.memfd.get(),
                                  pidfd ? pidfd.get() : -1, init.get()};

  std::vector<std::string> args = init_child_args(bin);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {path_env.data(), nullptr};

  p->pid_ = fork_init_child(prepared);
  if (p->pid_ < 0) throw_errno("fork for exec");
  if (p->pid_ == 0) exec_init_child(argv.data(), envp, fds, io.tty);
  if (!io.tty) ::setpgid(p->pid_, p->pid_);  // (the child does it too: whichever runs first)
  p->pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, p->pid_, 0)));
  if (!p->pidfd_) throw_errno("pidfd_open for exec");  // ~ExecProcess kills and reaps it
  start_write.reset();
  child_in.reset();
  child_out.reset();
  child_err.reset();
  slave.reset();  // the child holds the slave now: the master sees EIO once it and its children are gone

  std::string report = read_start_report(start_read.get());
  if (report.size() >= sizeof(int)) {
    int e = 0;
    std::memcpy(&e, report.data(), sizeof e);
    std::string message = report.substr(sizeof e);
    if (message.empty()) message = "exec \"" + bin.init + "\": " + std::strerror(e);
    throw Error(e != 0 ? errc_from_errno(e) : Errc::internal, message);
  }
  return p;
}

ExecProcess::~ExecProcess() {
  if (pid_ <= 0 || exit_code_) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void ExecProcess::close_stdin() { stdin_.reset(); }

// Called once exit_fd() is readable: the process has ended (a zombie now).
int ExecProcess::wait() {
  if (exit_code_) return *exit_code_;
  // What it left behind in its process group goes with it. Before the reap: until then its
  // zombie keeps the group id from being reused.
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("wait for exec");
  }
  exit_code_ = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return *exit_code_;
}

void ExecProcess::resize(unsigned short width, unsigned short height) {
  if (!master_) return;
  winsize ws{height, width, 0, 0};
  ::ioctl(master_.get(), TIOCSWINSZ, &ws);
}

}  // namespace vpcri::runtime::container

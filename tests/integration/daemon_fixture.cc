#include "tests/integration/daemon_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/fd.h"
#include "common/fs.h"

namespace vpcri::test {
namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

// The fields of /proc/<pid>/stat after the command name (state, ppid, ...); "" once it is gone.
std::string stat_after_comm(pid_t pid) {
  std::string stat;
  try {
    stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (const std::exception&) {
    return "";
  }
  // The command name may hold spaces and ')': the fields resume after the last ')'.
  const size_t end = stat.rfind(')');
  return end == std::string::npos || end + 2 >= stat.size() ? "" : stat.substr(end + 2);
}

}  // namespace

bool process_runs(pid_t pid) {
  const std::string fields = stat_after_comm(pid);
  return !fields.empty() && fields[0] != 'Z';
}

pid_t parent_pid(pid_t pid) {
  std::istringstream fields(stat_after_comm(pid));
  std::string state;
  pid_t ppid = 0;
  fields >> state >> ppid;
  return ppid;
}

std::string binary(const char* env_name) {
  const char* path = std::getenv(env_name);
  if (!path || !*path) throw std::runtime_error(std::string("environment variable ") + env_name + " is not set");
  return path;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  auto args = c_argv(argv);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execv(args[0], args.data());
    _exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  UniqueFd out_fd(out_pipe[0]), err_fd(err_pipe[0]);
  RunResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_fd.get(), POLLIN, 0}, {err_fd.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  result.exit_code = wait_exit_code(pid);
  return result;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/vpcri-test.XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Daemon::Daemon(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {}

Daemon::~Daemon() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_exit_code(pid_);
  }
}

std::vector<std::string> Daemon::args() const {
  std::vector<std::string> argv = {binary("VPCRID"), "--root", root(), "--state", state(), "--socket", socket(),
                                   "--log-level", "debug"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  // A daemon outside a test's own node namespace must never touch the host's networking
  // (sysctls, nftables, veths): pods get only loopback there.
  if (netns_.empty()) argv.insert(argv.end(), {"--network-provider", "none"});
  // The HTTP endpoints' fixed default ports would collide between daemons sharing the host's
  // namespace (and with a real vpcrid): off there unless a test names an address. In a test's
  // own namespace the defaults are free.
  auto named = [&](const std::string& flag) {
    return std::any_of(extra_args_.begin(), extra_args_.end(), [&](const std::string& a) { return a.starts_with(flag); });
  };
  if (netns_.empty() && !named("--metrics-address")) argv.push_back("--metrics-address=");
  if (netns_.empty() && !named("--introspection-address")) argv.push_back("--introspection-address=");
  return argv;
}

void Daemon::set_config(const std::string& yaml) {
  std::string path = dir() + "/config.yaml";
  fs::write_file_atomic(path, yaml);
  if (std::find(extra_args_.begin(), extra_args_.end(), "--config") == extra_args_.end()) {
    extra_args_.insert(extra_args_.end(), {"--config", path});
  }
}

std::string Daemon::log() const {
  try {
    return fs::read_file(dir() + "/vpcrid.log");
  } catch (...) {
    return "";
  }
}

void Daemon::start() {
  // Readiness comes the way systemd gets it: READY=1 on $NOTIFY_SOCKET.
  std::string notify_path = dir() + "/notify.sock";
  ::unlink(notify_path.c_str());
  UniqueFd notify(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, notify_path.c_str(), sizeof addr.sun_path - 1);
  if (::bind(notify.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("bind notify socket: " + std::string(std::strerror(errno)));
  }
  auto argv = args();
  auto cargs = c_argv(argv);
  std::string log_path = dir() + "/vpcrid.log";
  pid_ = ::fork();
  if (pid_ == 0) {
    // A test killed by its timeout runs no destructor: the daemon must not outlive it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!netns_.empty()) {
      int ns_fd = ::open(netns_.c_str(), O_RDONLY | O_CLOEXEC);
      if (ns_fd < 0 || ::setns(ns_fd, CLONE_NEWNET) != 0) _exit(126);
    }
    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(log_fd, 2);
    ::setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
    ::execv(cargs[0], cargs.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{notify.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) == 1) {
      char buf[256] = {};
      ssize_t n = ::recv(notify.get(), buf, sizeof buf - 1, 0);
      if (n > 0 && std::string(buf, static_cast<size_t>(n)).find("READY=1") != std::string::npos) {
        channel_ = grpc::CreateChannel("unix:" + socket(), grpc::InsecureChannelCredentials());
        runtime_ = runtime::v1::RuntimeService::NewStub(channel_);
        images_ = runtime::v1::ImageService::NewStub(channel_);
        return;
      }
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("vpcrid exited before it was ready; log:\n" + log());
    }
  }
  throw std::runtime_error("vpcrid was not ready within 30 s; log:\n" + log());
}

int Daemon::stop(int sig) {
  if (pid_ <= 0) return -1;
  auto close_client = [this] {
    runtime_.reset();
    images_.reset();
    channel_.reset();
  };
  // A graceful stop waits for every client connection to close, and an idle gRPC C++ channel
  // reads the server's GOAWAY only at its next poll (up to 5 s later): close ours first. (A
  // SIGKILL stays a crash in the middle of whatever the connection is doing.)
  if (sig != SIGKILL) close_client();
  ::kill(pid_, sig);
  int code = wait_exit_code(pid_);
  pid_ = -1;
  close_client();
  return code;
}

runtime::v1::RuntimeService::Stub& Daemon::runtime() {
  if (!runtime_) throw std::runtime_error("daemon not started");
  return *runtime_;
}

runtime::v1::ImageService::Stub& Daemon::images() {
  if (!images_) throw std::runtime_error("daemon not started");
  return *images_;
}

std::unique_ptr<grpc::ClientContext> context(std::chrono::seconds timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

}  // namespace vpcri::test

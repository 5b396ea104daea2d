#include "net/datapath/test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "common/error.h"
#include "common/fd.h"

extern char** environ;

namespace vpcri::net::testing {
namespace {

void make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
}

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Tools like ip and nft live in sbin, which a CI PATH may lack.
std::string resolve(const std::string& tool) {
  if (tool.find('/') != std::string::npos) return tool;
  std::string dirs = ::getenv("PATH") ? ::getenv("PATH") : "";
  dirs += ":/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + tool;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw Error(Errc::not_found, tool + " not found in PATH or sbin: install it (see net/datapath/meson.build)");
}

}  // namespace

CommandResult run(const std::vector<std::string>& argv, std::string_view input) {
  UniqueFd in_read, in_write, out_read, out_write;
  make_pipe(in_read, in_write);
  make_pipe(out_read, out_write);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 2);
  std::string program = resolve(argv.at(0));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) throw_errno("spawning " + join(argv), err);
  in_read.reset();
  out_write.reset();

  // Inputs are small (a line or a ruleset): one write fits in the pipe buffer.
  if (!input.empty() && ::write(in_write.get(), input.data(), input.size()) < 0 && errno != EPIPE) {
    throw_errno("writing stdin of " + join(argv));
  }
  in_write.reset();

  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool killed = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{out_read.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = ::read(out_read.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    result.output.append(buf, static_cast<size_t>(got));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (killed) result.output += "\n[killed after 30 s]";
  return result;
}

std::string run_ok(const std::vector<std::string>& argv, std::string_view input) {
  auto r = run(argv, input);
  if (r.exit_code != 0) {
    throw Error(Errc::internal, join(argv) + " exited " + std::to_string(r.exit_code) + ": " + r.output);
  }
  return r.output;
}

nlohmann::json ip_json(const std::string& netns, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip", "-j", "-n", netns};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out = run_ok(argv);
  if (out.find_first_not_of(" \n") == std::string::npos) return nlohmann::json::array();
  return nlohmann::json::parse(out);
}

std::vector<std::string> in_netns(const std::string& netns, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"nsenter", "--net=/run/netns/" + netns});
  return argv;
}

std::string random_tag() {
  unsigned char bytes[4];
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) throw_errno("getrandom");
  char buf[9];
  std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3]);
  return buf;
}

UniqueFd tcp_listen_in(const NetNs& ns, uint16_t port) {
  return run_in_netns(ns, [port] {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket");
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw_errno("bind");
    if (::listen(fd.get(), 4) != 0) throw_errno("listen");
    return fd;
  });
}

bool tcp_connect_from(const NetNs& ns, const std::string& dst, uint16_t port, int timeout_ms) {
  return run_in_netns(ns, [&] {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) throw_errno("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, dst.c_str(), &addr.sin_addr);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) return false;
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return false;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    return err == 0;
  });
}

}  // namespace vpcri::net::testing

#include "cri/streaming/websocket_session.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/error.h"
#include "cri/streaming/http.h"
#include "cri/streaming/remote_command.h"
#include "cri/streaming/resize.h"
#include "cri/streaming/websocket_endpoint.h"

namespace vpcri::streaming {
namespace {

using Clock = std::chrono::steady_clock;
namespace ws = websocket;

enum Channel : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2, kError = 3, kResize = 4, kClose = 255 };
constexpr size_t kMaxMessage = 1 << 20;
constexpr size_t kMaxPendingStdin = 1 << 20;
constexpr std::chrono::milliseconds kOutputGrace{1000};

int version_of(const std::string& protocol) {
  if (protocol.rfind("v5.", 0) == 0) return 5;
  if (protocol.rfind("v4.", 0) == 0) return 4;
  return 1;
}

}  // namespace

const std::vector<std::string>& websocket_remote_command_protocols() {
  static const std::vector<std::string> protocols = {"v5.channel.k8s.io", "v4.channel.k8s.io",
                                                     "v4.base64.channel.k8s.io", "channel.k8s.io",
                                                     "base64.channel.k8s.io"};
  return protocols;
}

void run_websocket_remote_command(UniqueFd socket, std::string already_read, const Request& request,
                                  const std::string& protocol, const SessionLimits& limits) {
  ws::Endpoint s(socket.get(), ws::Endpoint::Role::server, already_read, kMaxMessage);
  const bool base64 = protocol.find("base64") != std::string::npos;
  const int version = version_of(protocol);
  auto send_channel = [&](uint8_t channel, std::string_view data) { ws::send_channel(s, base64, channel, data); };
  const ExecOptions& io = request.io;

  std::string pending_stdin;
  bool stdin_eof = false, stdin_closed = false;
  ResizeReader resize;
  std::optional<WindowSize> initial_size;
  std::unique_ptr<Process> process;
  // Handles one client message; before the process starts, its stdin is kept and its size noted.
  auto on_message = [&](const ws::Message& m) {
    auto decoded = ws::decode_channel(m, base64);
    if (!decoded) return;
    auto& [channel, data] = *decoded;
    if (channel == kStdin && io.stdin && !stdin_eof) pending_stdin += data;
    if (channel == kResize) {
      if (auto size = resize.feed(data)) {
        if (process) process->resize(*size);
        else initial_size = size;
      }
    }
    if (channel == kClose && version >= 5 && !data.empty() && data[0] == kStdin) stdin_eof = true;
  };
  // Reads what the client sent and handles each message; false when the session is over (the
  // client went away or closed: ~Process then ends an exec and detaches an attach).
  auto read_client = [&] {
    if (!s.read_some()) return false;
    while (auto m = s.next()) on_message(*m);
    if (!s.peer_closed()) return true;
    s.close(ws::kCloseNormal);
    return false;
  };

  try {
    // With a tty, the size the client sends first (see kInitialSizeWait).
    auto size_deadline = Clock::now() + kInitialSizeWait;
    while (io.tty && !initial_size && Clock::now() < size_deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(size_deadline - Clock::now()).count();
      pollfd p[2] = {{s.fd(), POLLIN, 0}, {limits.stop_fd, POLLIN, 0}};
      if (::poll(p, 2, static_cast<int>(std::max<int64_t>(left, 0))) < 0 && errno != EINTR) {
        throw_errno("poll websocket session");
      }
      if (p[1].revents != 0) return;
      if (p[0].revents != 0 && !read_client()) return;
    }
  } catch (const ws::ProtocolError& e) {
    s.close(e.code, e.what());
    return;
  }

  try {
    process = request.start(io, initial_size);
  } catch (const std::exception& e) {
    std::string message = std::string(request.kind == Kind::attach ? "error attaching to container: "
                                                                    : "error executing command in container: ") +
                          e.what();
    send_channel(kError, version >= 4 ? internal_error_json(message) : message);
    s.close(ws::kCloseNormal, "");
    return;
  }
  Process& proc = *process;
  for (int fd : {proc.stdin_fd(), proc.stdout_fd(), proc.stderr_fd()}) {
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  // "Ready": an empty message on the first output channel, as the kubelet library sends.
  send_channel(io.stdout ? kStdout : io.stderr ? kStderr : kError, {});

  if (initial_size) proc.resize(*initial_size);
  auto flush_stdin = [&] {
    while (!pending_stdin.empty() && proc.stdin_fd() >= 0) {
      ssize_t n = proc.write_stdin(pending_stdin.data(), pending_stdin.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) pending_stdin.clear();
      else pending_stdin.erase(0, static_cast<size_t>(n));
    }
    pending_stdin.clear();
    if (stdin_eof && !stdin_closed) {
      proc.close_stdin();
      stdin_closed = true;
    }
  };

  int out_fd = proc.stdout_fd(), err_fd = proc.stderr_fd() == out_fd ? -1 : proc.stderr_fd();
  std::optional<int> exit_code;
  Clock::time_point output_deadline = Clock::time_point::max();
  try {
    for (;;) {
      if (exit_code && ((out_fd < 0 && err_fd < 0) || Clock::now() > output_deadline)) break;
      if (Clock::now() - s.last_activity() > limits.idle_timeout || s.broken()) return;
      bool stdin_waiting = !pending_stdin.empty() && proc.stdin_fd() >= 0;
      pollfd p[6] = {{pending_stdin.size() < kMaxPendingStdin ? s.fd() : -1, POLLIN, 0},
                     {limits.stop_fd, POLLIN, 0},
                     {out_fd, POLLIN, 0},
                     {err_fd, POLLIN, 0},
                     {exit_code ? -1 : proc.exit_fd(), POLLIN, 0},
                     {stdin_waiting ? proc.stdin_fd() : -1, POLLOUT, 0}};
      if (::poll(p, 6, exit_code ? 50 : 1000) < 0) {
        if (errno == EINTR) continue;
        throw_errno("poll websocket session");
      }
      if (p[1].revents != 0) return;
      if (p[0].revents != 0 && !read_client()) return;
      for (auto [i, fd] : {std::pair{2, &out_fd}, {3, &err_fd}}) {
        if (p[i].revents == 0) continue;
        char buf[32 * 1024];
        bool is_stderr = false;
        ssize_t n = proc.read_output(*fd, buf, sizeof buf, is_stderr);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
          *fd = -1;
          continue;
        }
        if (is_stderr ? io.stderr : io.stdout) {
          send_channel(is_stderr ? kStderr : kStdout, std::string_view(buf, static_cast<size_t>(n)));
        }
      }
      if (p[4].revents != 0) {
        exit_code = proc.wait();
        output_deadline = Clock::now() + kOutputGrace;
      }
      if (p[5].revents != 0 || stdin_eof) flush_stdin();
    }
  } catch (const ws::ProtocolError& e) {
    s.close(e.code, e.what());
    return;
  }
  if (version >= 4) {
    send_channel(kError, exit_status_json(*exit_code));
  } else if (*exit_code != 0) {
    send_channel(kError, "command terminated with non-zero exit code: exit status " + std::to_string(*exit_code));
  }
  s.close(ws::kCloseNormal, "");
}

}  // namespace vpcri::streaming

#include "cri/streaming/remote_command.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "cri/streaming/resize.h"

namespace vpcri::streaming {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// After the process ended, how long output may still arrive from what it left behind holding
// its stdout/stderr (as ExecSync).
constexpr std::chrono::milliseconds kOutputGrace{1000};
constexpr size_t kMaxPendingStdin = 1 << 20;  // past this, the socket is not read until stdin drains

enum class StreamType { error, stdin_, stdout_, stderr_, resize };

std::optional<StreamType> stream_type(const std::string& name) {
  static const std::map<std::string, StreamType> types = {{"error", StreamType::error},
                                                          {"stdin", StreamType::stdin_},
                                                          {"stdout", StreamType::stdout_},
                                                          {"stderr", StreamType::stderr_},
                                                          {"resize", StreamType::resize}};
  auto it = types.find(name);
  if (it == types.end()) return std::nullopt;
  return it->second;
}

int version_of(const std::string& protocol) {
  if (protocol == "v4.channel.k8s.io") return 4;
  if (protocol == "v3.channel.k8s.io") return 3;
  if (protocol == "v2.channel.k8s.io") return 2;
  return 1;
}

struct Session {
  Connection& conn;
  const Request& request;
  int version;
  std::map<StreamType, uint32_t> streams;
  std::optional<WindowSize> size;
  ResizeReader resize_reader;
  std::string pending_stdin;
  bool stdin_eof = false;  // the client half-closed stdin
  std::unique_ptr<Process> process;

  size_t expected_streams() const {
    const ExecOptions& io = request.io;
    return 1 + io.stdin + io.stdout + (io.stderr && !io.tty) + (io.tty && version >= 3);
  }
  bool all_streams() const {
    const ExecOptions& io = request.io;
    auto has = [&](StreamType t) { return streams.count(t) != 0; };
    return has(StreamType::error) && (!io.stdin || has(StreamType::stdin_)) && (!io.stdout || has(StreamType::stdout_)) &&
           (!io.stderr || io.tty || has(StreamType::stderr_)) && (!io.tty || version < 3 || has(StreamType::resize));
  }
  std::optional<uint32_t> id(StreamType t) const {
    auto it = streams.find(t);
    if (it == streams.end()) return std::nullopt;
    return it->second;
  }

  // Handles one frame; false when the client ended the session.
  bool on_frame(Received& r) {
    spdy::Frame& f = r.frame;
    switch (f.type) {
      case spdy::Type::syn_stream: {
        auto type = stream_type(spdy::header_value(r.headers, "streamtype"));
        conn.reply(f.stream_id);
        if (type && streams.count(*type) == 0) streams[*type] = f.stream_id;
        return true;
      }
      case spdy::Type::data:
        if (f.stream_id == id(StreamType::stdin_) && !stdin_eof) {
          pending_stdin += f.data;
          if (f.fin()) stdin_eof = true;
        } else if (f.stream_id == id(StreamType::resize)) {
          if (auto s = resize_reader.feed(f.data)) {
            size = s;
            if (process) process->resize(*s);
          }
        }
        return true;
      case spdy::Type::rst_stream:
        if (f.stream_id == id(StreamType::stdin_)) stdin_eof = true;
        return true;
      case spdy::Type::goaway: return false;
      default: return true;
    }
  }

  // Reads every frame the socket has; false when the client is gone or ended the session.
  bool pump_socket() {
    if (!conn.read_some()) return false;
    while (auto r = conn.next()) {
      if (!on_frame(*r)) return false;
    }
    return !conn.broken();
  }

  void flush_stdin() {
    int fd = process ? process->stdin_fd() : -1;
    if (fd < 0) {
      pending_stdin.clear();
      return;
    }
    while (!pending_stdin.empty()) {
      ssize_t n = process->write_stdin(pending_stdin.data(), pending_stdin.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) {  // the process closed its stdin: what it did not read is dropped
        pending_stdin.clear();
        break;
      }
      pending_stdin.erase(0, static_cast<size_t>(n));
    }
    if (stdin_eof) process->close_stdin();
  }

  // Sends what an output fd has; false at its EOF (EIO from a pty master whose slave is closed).
  bool forward_output(int fd) {
    char buf[32 * 1024];
    bool is_stderr = false;
    ssize_t n = process->read_output(fd, buf, sizeof buf, is_stderr);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;
    if (auto sid = id(is_stderr ? StreamType::stderr_ : StreamType::stdout_)) {
      conn.data(*sid, std::string_view(buf, static_cast<size_t>(n)));
    }
    return true;
  }

  void finish(const std::string& status_json, const std::string& failure_text) {
    for (StreamType t : {StreamType::stdout_, StreamType::stderr_}) {
      if (auto sid = id(t)) conn.data(*sid, {}, true);
    }
    if (auto sid = id(StreamType::error)) {
      if (version >= 4) {
        conn.data(*sid, status_json, true);
      } else if (version >= 2 && !failure_text.empty()) {
        conn.data(*sid, failure_text, true);
      } else {
        conn.data(*sid, {}, true);
      }
    }
  }
};

void set_nonblocking(int fd) {
  if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

const std::vector<std::string>& remote_command_protocols() {
  static const std::vector<std::string> protocols = {"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                                                     "channel.k8s.io"};
  return protocols;
}

// ordered_json: the fields in Go's order, as kubelet's library writes them.
std::string exit_status_json(int exit_code) {
  if (exit_code == 0) return R"({"metadata":{},"status":"Success"})";
  nlohmann::ordered_json j = {{"metadata", nlohmann::ordered_json::object()},
            {"status", "Failure"},
            {"message", "command terminated with non-zero exit code: exit status " + std::to_string(exit_code)},
            {"reason", "NonZeroExitCode"},
            {"details", {{"causes", {{{"reason", "ExitCode"}, {"message", std::to_string(exit_code)}}}}}}};
  return j.dump();
}

std::string internal_error_json(const std::string& message) {
  nlohmann::ordered_json j = {{"metadata", nlohmann::ordered_json::object()},
            {"status", "Failure"},
            {"message", "Internal error occurred: " + message},
            {"reason", "InternalError"},
            {"details", {{"causes", {{{"message", message}}}}}},
            {"code", 500}};
  return j.dump();
}

void run_remote_command(Connection& conn, const Request& request, const std::string& protocol,
                        const SessionLimits& limits) {
  Session s{conn, request, version_of(protocol), {}, {}, {}, {}, false, nullptr};
  auto idle_expired = [&] { return Clock::now() - conn.last_activity() > limits.idle_timeout; };

  // 1. The client opens its streams; nothing runs before all are there.
  auto creation_deadline = Clock::now() + limits.stream_creation_timeout;
  auto wait_for = [&](Clock::time_point deadline) {  // false: end the session
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p[2] = {{conn.fd(), POLLIN, 0}, {limits.stop_fd, POLLIN, 0}};
    if (::poll(p, 2, static_cast<int>(std::max<int64_t>(left, 0))) < 0 && errno != EINTR) {
      throw_errno("poll streaming session");
    }
    if (p[1].revents != 0) return false;
    return p[0].revents == 0 || s.pump_socket();
  };
  while (!s.all_streams()) {
    if (Clock::now() >= creation_deadline) return;  // "timed out waiting for client to create streams"
    if (!wait_for(creation_deadline)) return;
  }
  // With a tty, the size the client sends next (see kInitialSizeWait).
  if (request.io.tty && s.id(StreamType::resize)) {
    auto size_deadline = Clock::now() + kInitialSizeWait;
    while (!s.size && Clock::now() < size_deadline) {
      if (!wait_for(size_deadline)) return;
    }
  }

  // 2. Start the process with the latest size the client sent.
  std::string kind = request.kind == Kind::attach ? "attaching to container" : "executing command in container";
  try {
    s.process = request.start(request.io, s.size);
  } catch (const std::exception& e) {
    std::string message = "error " + kind + ": " + e.what();
    s.finish(internal_error_json(message), message);
    return;
  }
  Process& proc = *s.process;
  set_nonblocking(proc.stdin_fd());
  set_nonblocking(proc.stdout_fd());
  set_nonblocking(proc.stderr_fd());
  if (s.size) proc.resize(*s.size);
  s.flush_stdin();

  // 3. Relay until the process ended and its output is drained (or the grace period is over).
  int out_fd = proc.stdout_fd(), err_fd = proc.stderr_fd() == out_fd ? -1 : proc.stderr_fd();
  std::optional<int> exit_code;
  Clock::time_point output_deadline = Clock::time_point::max();
  for (;;) {
    if (exit_code && ((out_fd < 0 && err_fd < 0) || Clock::now() > output_deadline)) break;
    if (idle_expired()) return;
    bool read_socket = s.pending_stdin.size() < kMaxPendingStdin;
    bool stdin_waiting = !s.pending_stdin.empty() && proc.stdin_fd() >= 0;
    pollfd p[6] = {{read_socket ? conn.fd() : -1, POLLIN, 0},
                   {limits.stop_fd, POLLIN, 0},
                   {out_fd, POLLIN, 0},
                   {err_fd, POLLIN, 0},
                   {exit_code ? -1 : proc.exit_fd(), POLLIN, 0},
                   {stdin_waiting ? proc.stdin_fd() : -1, POLLOUT, 0}};
    int timeout_ms = exit_code ? 50 : 1000;  // wake up for the idle and grace deadlines
    if (::poll(p, 6, timeout_ms) < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll streaming session");
    }
    if (p[1].revents != 0) return;
    if (p[0].revents != 0 && !s.pump_socket()) return;  // client gone: ~Process ends the process
    if (p[2].revents != 0 && !s.forward_output(out_fd)) out_fd = -1;
    if (p[3].revents != 0 && !s.forward_output(err_fd)) err_fd = -1;
    if (p[4].revents != 0) {
      exit_code = proc.wait();
      output_deadline = Clock::now() + kOutputGrace;
    }
    if (p[5].revents != 0 || (s.stdin_eof && s.pending_stdin.empty())) s.flush_stdin();
    if (conn.broken()) return;
  }
  s.finish(exit_status_json(*exit_code),
           *exit_code == 0 ? "" : "command terminated with non-zero exit code: exit status " + std::to_string(*exit_code));
}

}  // namespace vpcri::streaming

// What a streaming URL authorises, filled in by the Exec/Attach/PortForward RPC and run by the
// server when the client connects. Free of CRI types: the CRI layer hands in closures that start
// the process or dial the pod.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <unistd.h>

#include "common/fd.h"

namespace vpcri::streaming {

enum class Kind { exec, attach, port_forward };
const char* kind_path(Kind kind);  // "exec", "attach", "portforward"

struct WindowSize {
  uint16_t width = 0;
  uint16_t height = 0;
};

// A process an exec or attach session talks to. An exec's destructor must end it (kill and
// reap): a client that goes away leaves nothing running. An attach's only detaches.
class Process {
 public:
  virtual ~Process() = default;
  virtual int stdin_fd() const = 0;   // -1 without stdin; with a tty: the pty master
  virtual int stdout_fd() const = 0;  // -1 without stdout; with a tty: the pty master
  virtual int stderr_fd() const = 0;  // -1 without stderr or with a tty
  virtual void close_stdin() = 0;     // stdin EOF (no-op with a tty)
  virtual int exit_fd() const = 0;    // readable once the process ended (a pidfd)
  virtual int wait() = 0;             // its exit code (128 + signal) once exit_fd is readable
  virtual void resize(WindowSize size) = 0;
  // Reads output from `fd` (stdout_fd or stderr_fd) into `buf`: as read(2), and whether the
  // bytes are stderr. The default reads the fd; an attach reads one message of a socket that
  // carries both streams.
  virtual ssize_t read_output(int fd, char* buf, size_t size, bool& is_stderr) {
    is_stderr = fd == stderr_fd();
    return ::read(fd, buf, size);
  }
  // Writes stdin bytes, as write(2) (possibly fewer than given).
  virtual ssize_t write_stdin(const char* data, size_t size) { return ::write(stdin_fd(), data, size); }
};

struct ExecOptions {
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
  bool tty = false;
};

struct Request {
  Kind kind = Kind::exec;
  std::string target;  // container or pod id, for messages
  ExecOptions io;
  // exec/attach: starts the process (the initial window size, if the client sent one already).
  // Throws vpcri::Error on failure; the message goes to the client.
  std::function<std::unique_ptr<Process>(const ExecOptions&, std::optional<WindowSize>)> start;
  // port_forward: a TCP connection to localhost:port in the pod's network namespace. Throws on failure.
  std::function<UniqueFd(uint16_t port)> dial;
};

}  // namespace vpcri::streaming

namespace vpcri::streaming {

// What bounds one session's life.
struct SessionLimits {
  std::chrono::milliseconds idle_timeout{std::chrono::hours(4)};  // no frame either way for this long
  std::chrono::milliseconds stream_creation_timeout{std::chrono::seconds(30)};
  int stop_fd = -1;  // readable when the server stops: every session ends
};

// A tty client sends its terminal's size just after opening the session. A process started before
// that message arrives reads a 0x0 terminal (`stty size`, a shell's first prompt), so a tty session
// waits this long for it before starting the process; a client that sends none only pays the wait.
constexpr std::chrono::milliseconds kInitialSizeWait{500};

}  // namespace vpcri::streaming

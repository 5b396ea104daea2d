#include "runtime/monitor/attach.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "runtime/monitor/attach_protocol.h"

namespace vpcri::runtime {
namespace {

static_assert(AttachConnection::kMaxOutput == ATTACH_MAX_PAYLOAD);

// Sends one message; as sendmsg(2).
ssize_t send_message(int fd, unsigned char type, const void* data, size_t size) {
  iovec iov[2] = {{&type, 1}, {const_cast<void*>(data), size}};
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = size == 0 ? 1 : 2;
  ssize_t n;
  do {
    n = ::sendmsg(fd, &m, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

// A small control message that must not be lost behind stdin filling the socket: waits (1 s at
// most) for room.
void send_control(int fd, unsigned char type, const void* data, size_t size) {
  for (int tries = 0; tries < 2; tries++) {
    if (send_message(fd, type, data, size) >= 0 || errno != EAGAIN) return;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 1000);
  }
}

}  // namespace

AttachConnection AttachConnection::connect(const std::string& state_dir, bool with_stdin) {
  // Through /proc/self/fd: a sockaddr_un holds 107 bytes, a state directory's path may be longer.
  UniqueFd dir(::open(state_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw_errno("open container state directory " + state_dir);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = "/proc/self/fd/" + std::to_string(dir.get()) + "/" + ATTACH_SOCKET_NAME;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket for attach");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) {
      throw Error(Errc::failed_precondition, "the container in " + state_dir + " has no attach socket: it is not running");
    }
    throw_errno("connect to the attach socket in " + state_dir);
  }
  unsigned char hello = with_stdin ? 1 : 0;
  if (send_message(fd.get(), ATTACH_HELLO, &hello, 1) != 2) throw_errno("attach: greet vpcri-monitor");
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  return AttachConnection(std::move(fd));
}

ssize_t AttachConnection::read_output(char* buf, size_t size, bool& is_stderr) {
  if (size < kMaxOutput) throw Error(Errc::internal, "attach: output buffer smaller than a message");
  unsigned char type = 0;
  iovec iov[2] = {{&type, 1}, {buf, size}};
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  ssize_t n = ::recvmsg(fd_.get(), &m, 0);
  if (n <= 0) return n;
  if (n == 1 || (type != ATTACH_STDOUT && type != ATTACH_STDERR)) {  // nothing for the client
    errno = EAGAIN;
    return -1;
  }
  is_stderr = type == ATTACH_STDERR;
  return n - 1;
}

ssize_t AttachConnection::write_stdin(const char* data, size_t size) {
  if (size > kMaxOutput) size = kMaxOutput;
  ssize_t n = send_message(fd_.get(), ATTACH_STDIN, data, size);
  return n <= 0 ? n : n - 1;
}

void AttachConnection::close_stdin() {
  if (stdin_closed_) return;
  stdin_closed_ = true;
  send_control(fd_.get(), ATTACH_STDIN_EOF, nullptr, 0);
}

void AttachConnection::resize(uint16_t width, uint16_t height) {
  uint16_t size[2] = {width, height};
  send_control(fd_.get(), ATTACH_RESIZE, size, sizeof size);
}

}  // namespace vpcri::runtime

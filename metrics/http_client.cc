#include "metrics/http_client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/fd.h"
#include "metrics/http_server.h"

namespace vpcri::metrics {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until the deadline; throws deadline_exceeded when it passes.
void wait_for(int fd, short events, Clock::time_point deadline, const std::string& what) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw Error(Errc::deadline_exceeded, what + ": no answer in time");
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return;
    if (n < 0 && errno != EINTR) throw_errno(what + ": poll");
  }
}

}  // namespace

std::string http_exchange(const std::string& address, const std::string& request, std::chrono::milliseconds timeout) {
  const std::string what = "http://" + address;
  ListenAddress target = parse_listen_address(address);
  auto deadline = Clock::now() + timeout;
  UniqueFd fd(::socket(target.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno(what + ": socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&target.addr), target.len) != 0) {
    if (errno != EINPROGRESS) throw Error(Errc::unavailable, what + ": connect: " + std::strerror(errno));
    wait_for(fd.get(), POLLOUT, deadline, what);
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) throw Error(Errc::unavailable, what + ": connect: " + std::strerror(err));
  }
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (errno == EAGAIN) {
      wait_for(fd.get(), POLLOUT, deadline, what);
    } else if (errno == EPIPE || errno == ECONNRESET) {
      break;  // the server answered early (e.g. 431) and closed: read what it said
    } else if (errno != EINTR) {
      throw_errno(what + ": send");
    }
  }
  std::string answer;
  for (;;) {
    char buf[16384];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      answer.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return answer;
    } else if (errno == EAGAIN) {
      wait_for(fd.get(), POLLIN, deadline, what);
    } else if (errno == ECONNRESET && !answer.empty()) {
      return answer;
    } else if (errno != EINTR) {
      throw_errno(what + ": recv");
    }
  }
}

HttpAnswer http_get(const std::string& address, const std::string& path, std::chrono::milliseconds timeout) {
  std::string raw = http_exchange(
      address, "GET " + path + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n\r\n", timeout);
  HttpAnswer out;
  size_t end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.") || raw.size() < 12 || end == std::string::npos) {
    throw Error(Errc::internal, "http://" + address + path + ": not an HTTP answer");
  }
  out.status = std::stoi(raw.substr(9, 3));
  out.head = raw.substr(0, end);
  out.body = raw.substr(end + 4);
  return out;
}

}  // namespace vpcri::metrics

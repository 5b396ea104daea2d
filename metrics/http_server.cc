#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>
#include <list>

#include "common/error.h"
#include "common/http_status.h"
#include "common/log.h"

namespace vpcri::metrics {
namespace {

using Clock = std::chrono::steady_clock;

struct Connection {
  UniqueFd fd;
  Clock::time_point deadline;
  std::string in;
  std::string out;
  size_t sent = 0;
  // reading the head -> writing the response -> draining what the client still sends until it
  // closes (closing with unread bytes would reset the connection and could lose the response).
  enum class Phase { reading, writing, draining } phase = Phase::reading;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

std::string serialize(const HttpResponse& response, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + http_reason_phrase(response.status) + "\r\n";
  out += "Content-Type: " + response.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  if (response.status == 405) out += "Allow: GET, HEAD\r\n";
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += response.body;
  return out;
}

HttpResponse error_response(int status, const std::string& message) {
  return HttpResponse{status, "text/plain; charset=utf-8", message + "\n"};
}

// The response to a complete request head (through the blank line).
std::string answer(const std::string& head, const HttpHandler& handler, const std::string& server_name) {
  size_t line_end = head.find("\r\n");
  std::string request_line = head.substr(0, line_end);
  size_t sp1 = request_line.find(' ');
  size_t sp2 = sp1 == std::string::npos ? std::string::npos : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || request_line.find(' ', sp2 + 1) != std::string::npos) {
    return serialize(error_response(400, "malformed request line"), false);
  }
  std::string method = request_line.substr(0, sp1);
  std::string target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string version = request_line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return serialize(error_response(400, "unsupported HTTP version \"" + version + "\""), false);
  }
  if (target.empty() || target[0] != '/') return serialize(error_response(400, "the target must be a path"), false);
  bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    return serialize(error_response(405, "method " + method + " not allowed: only GET and HEAD"), false);
  }
  HttpRequest request;
  size_t q = target.find('?');
  request.path = target.substr(0, q);
  if (q != std::string::npos) request.query = target.substr(q + 1);
  for (size_t pos = line_end + 2; pos < head.size();) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos || end == pos) break;
    std::string line = head.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == "accept") {
      request.accept = line.substr(colon + 1);
      while (!request.accept.empty() && request.accept.front() == ' ') request.accept.erase(0, 1);
    }
    pos = end + 2;
  }
  try {
    return serialize(handler(request), head_only);
  } catch (const std::exception& e) {
    log::warn("http handler failed", {{"server", server_name}, {"path", request.path}, {"error", e.what()}});
    return serialize(error_response(500, e.what()), head_only);
  }
}

}  // namespace


ListenAddress parse_listen_address(const std::string& address) {
  auto bad = [&](const std::string& why) {
    return Error(Errc::invalid_argument, "listen address \"" + address + "\": " + why);
  };
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw bad("expected IP:PORT, e.g. 127.0.0.1:61678");
  std::string host = address.substr(0, colon);
  std::string port_text = address.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    throw bad("the port must be a number from 0 to 65535");
  }
  auto port = static_cast<uint16_t>(std::stoi(port_text));
  ListenAddress out;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a.sin6_addr) != 1) {
      throw bad("\"" + host + "\" is not an IPv6 address");
    }
    std::memcpy(&out.addr, &a, sizeof a);
    out.len = sizeof a;
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
      throw bad("\"" + host + "\" is not an IPv4 address (write IPv6 as [addr])");
    }
    std::memcpy(&out.addr, &a, sizeof a);
    out.len = sizeof a;
  }
  return out;
}

HttpServer::HttpServer(std::string name, const std::string& address, HttpHandler handler, HttpServerOptions options)
    : name_(std::move(name)), handler_(std::move(handler)), options_(options) {
  ListenAddress listen_address = parse_listen_address(address);
  listen_fd_.reset(::socket(listen_address.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listen_fd_) throw_errno(name_ + ": socket");
  int one = 1;
  ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&listen_address.addr), listen_address.len) != 0) {
    throw_errno(name_ + ": listen on " + address);
  }
  if (::listen(listen_fd_.get(), 64) != 0) throw_errno(name_ + ": listen on " + address);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0) throw_errno(name_ + ": getsockname");
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw_errno(name_ + ": eventfd");
  thread_ = std::thread([this] { loop(); });
}

HttpServer::~HttpServer() {
  uint64_t one = 1;
  if (::write(wake_fd_.get(), &one, sizeof one) < 0) log::warn("http server wake failed", {{"server", name_}});
  thread_.join();
}

void HttpServer::loop() {
  std::list<Connection> connections;
  std::vector<pollfd> fds;
  std::vector<Connection*> polled;
  for (;;) {
    auto now = Clock::now();
    // Connections past their deadline are closed (a request still incomplete gets 408 first, best effort).
    for (auto it = connections.begin(); it != connections.end();) {
      if (now >= it->deadline) {
        if (it->phase == Connection::Phase::reading) {
          std::string timeout = serialize(error_response(408, "request head not received in time"), false);
          (void)::send(it->fd.get(), timeout.data(), timeout.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
    fds.clear();
    polled.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    auto next_deadline = now + std::chrono::hours(1);
    for (auto& c : connections) {
      fds.push_back({c.fd.get(), static_cast<short>(c.phase == Connection::Phase::writing ? POLLOUT : POLLIN), 0});
      polled.push_back(&c);
      next_deadline = std::min(next_deadline, c.deadline);
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_deadline - now).count() + 1;
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(wait));
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error("http server poll failed", {{"server", name_}, {"error", std::strerror(errno)}});
      return;
    }
    if (fds[0].revents) return;
    if (fds[1].revents & POLLIN) {
      for (;;) {
        UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) break;
        if (static_cast<int>(connections.size()) >= options_.max_connections) {
          std::string busy = serialize(error_response(503, "too many connections"), false);
          (void)::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          continue;
        }
        Connection c;
        c.fd = std::move(fd);
        c.deadline = Clock::now() + options_.timeout;
        connections.push_back(std::move(c));
      }
    }
    for (size_t i = 0; i < polled.size(); ++i) {
      Connection& c = *polled[i];
      short revents = fds[i + 2].revents;
      if (!revents) continue;
      bool done = false;
      char buf[4096];
      if (c.phase == Connection::Phase::reading) {
        ssize_t got = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
          done = true;  // the client went away before sending a whole head
        } else if (got > 0) {
          c.in.append(buf, static_cast<size_t>(got));
          size_t end = c.in.find("\r\n\r\n");
          if (end != std::string::npos && end + 4 <= options_.max_head_bytes) {
            c.out = answer(c.in.substr(0, end + 4), handler_, name_);
            c.phase = Connection::Phase::writing;
          } else if (c.in.size() > options_.max_head_bytes) {
            c.out = serialize(error_response(431, "request head larger than " + std::to_string(options_.max_head_bytes) +
                                                      " bytes"), false);
            c.phase = Connection::Phase::writing;
          }
          if (c.phase == Connection::Phase::writing) c.in.clear();
        }
      } else if (c.phase == Connection::Phase::draining) {
        ssize_t got = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) done = true;
      }
      if (c.phase == Connection::Phase::writing) {
        ssize_t sent = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) c.sent += static_cast<size_t>(sent);
        if (sent < 0 && errno != EAGAIN && errno != EINTR) {
          done = true;
        } else if (c.sent == c.out.size()) {
          ::shutdown(c.fd.get(), SHUT_WR);  // the client reads to EOF, then closes
          c.phase = Connection::Phase::draining;
        }
      }
      if (done) {
        for (auto it = connections.begin(); it != connections.end(); ++it) {
          if (&*it == &c) {
            connections.erase(it);
            break;
          }
        }
      }
    }
  }
}

}  // namespace vpcri::metrics

#include "cri/streaming/client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "cri/streaming/http.h"
#include "cri/streaming/port_forward.h"
#include "cri/streaming/tls.h"

namespace vpcri::streaming {
namespace {

int write_fd_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

}  // namespace

UniqueFd dial_url(const std::string& url, std::string& path, std::string& host_port) {
  const bool https = url.rfind("https://", 0) == 0;
  const std::string scheme = https ? "https://" : "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) throw Error(Errc::invalid_argument, "unsupported streaming URL " + url);
  size_t slash = url.find('/', scheme.size());
  host_port = url.substr(scheme.size(), slash == std::string::npos ? std::string::npos : slash - scheme.size());
  path = slash == std::string::npos ? "/" : url.substr(slash);
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) throw Error(Errc::invalid_argument, "no port in streaming URL " + url);
  std::string host = host_port.substr(0, colon), port = host_port.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) {
    throw Error(Errc::invalid_argument, "bad address in streaming URL " + url);
  }
  UniqueFd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int rc = fd ? ::connect(fd.get(), res->ai_addr, res->ai_addrlen) : -1;
  int err = errno;
  ::freeaddrinfo(res);
  if (rc != 0) throw_errno("connect to " + host_port, err);
  return https ? tls::connect(std::move(fd), host) : std::move(fd);
}

std::string size_json(WindowSize s) {
  return "{\"Width\":" + std::to_string(s.width) + ",\"Height\":" + std::to_string(s.height) + "}\n";
}

http::Message read_upgrade_response(int fd, std::string& rest) {
  http::Message resp;
  try {
    resp = http::parse_response(http::read_head(fd, std::chrono::seconds(30), rest));
  } catch (const http::HttpError& e) {
    throw Error(Errc::unavailable, "unable to upgrade connection: " + e.body);
  }
  if (resp.status != 101) {
    // The body: what Content-Length announces, as far as it came (the server closes after it).
    std::string body = rest;
    char buf[4096];
    ssize_t n;
    while (body.size() < 4096 && (n = ::recv(fd, buf, sizeof buf, 0)) > 0) body.append(buf, static_cast<size_t>(n));
    throw Error(resp.status == 404 ? Errc::not_found : Errc::failed_precondition,
                "unable to upgrade connection: " + std::to_string(resp.status) + " " + body);
  }
  return resp;
}

Upgraded upgrade(const std::string& url, const std::vector<std::string>& protocols) {
  std::string path, host_port;
  UniqueFd fd = dial_url(url, path, host_port);
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: " + host_port +
                    "\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nContent-Length: 0\r\n";
  for (const auto& p : protocols) req += "X-Stream-Protocol-Version: " + p + "\r\n";
  req += "\r\n";
  if (!http::write_all(fd.get(), req)) throw_errno("send the upgrade request");
  std::string rest;
  http::Message resp = read_upgrade_response(fd.get(), rest);
  Upgraded u;
  u.protocol = resp.value("x-stream-protocol-version");
  u.conn = std::make_unique<Connection>(std::move(fd), Connection::Role::client, std::move(rest));
  return u;
}

int exit_code_of_status(const std::string& status) {
  auto j = nlohmann::json::parse(status, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return status.empty() ? 0 : 1;
  if (j.value("status", "") == "Success") return 0;
  if (j.value("reason", "") == "NonZeroExitCode" && j.contains("details")) {
    for (const auto& cause : j["details"].value("causes", nlohmann::json::array())) {
      if (cause.value("reason", "") == "ExitCode") {
        try {
          return std::stoi(cause.value("message", "1"));
        } catch (...) {
          return 1;
        }
      }
    }
  }
  return 1;
}

ExecOutcome run_exec_client(Connection& conn, const std::string& protocol, const ExecClientIo& io) {
  (void)protocol;
  uint32_t error_id = conn.open_stream({{"streamtype", "error"}});
  uint32_t stdin_id = io.in >= 0 ? conn.open_stream({{"streamtype", "stdin"}}) : 0;
  uint32_t stdout_id = io.out >= 0 ? conn.open_stream({{"streamtype", "stdout"}}) : 0;
  uint32_t stderr_id = io.err >= 0 && !io.tty ? conn.open_stream({{"streamtype", "stderr"}}) : 0;
  uint32_t resize_id = io.tty ? conn.open_stream({{"streamtype", "resize"}}) : 0;
  if (resize_id && io.size) conn.data(resize_id, size_json(*io.size));
  std::map<uint32_t, bool> open = {{error_id, true}};
  if (stdout_id) open[stdout_id] = true;
  if (stderr_id) open[stderr_id] = true;
  ExecOutcome outcome;
  int in = io.in;
  auto all_closed = [&] {
    for (auto& [id, o] : open) {
      if (o) return false;
    }
    return true;
  };
  while (!all_closed()) {
    pollfd p[3] = {{conn.fd(), POLLIN, 0}, {in, POLLIN, 0}, {io.resize_fd, POLLIN, 0}};
    if (::poll(p, 3, 5000) < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll exec session");
    }
    if (p[0].revents == 0 && p[1].revents == 0 && p[2].revents == 0) {
      conn.ping();  // keeps a quiet session alive through idle timeouts, as client-go every 5 s
      continue;
    }
    if (p[1].revents != 0) {
      char buf[32 * 1024];
      ssize_t n = ::read(in, buf, sizeof buf);
      if (n > 0) {
        conn.data(stdin_id, std::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        conn.data(stdin_id, {}, true);
        in = -1;
      }
    }
    if (p[2].revents != 0 && io.current_size) {
      uint64_t ignored;
      if (::read(io.resize_fd, &ignored, sizeof ignored) < 0) { /* a signalfd or eventfd; nothing to do */ }
      if (auto s = io.current_size(); s && resize_id) conn.data(resize_id, size_json(*s));
    }
    if (p[0].revents != 0) {
      if (!conn.read_some()) break;
      while (auto r = conn.next()) {
        const spdy::Frame& f = r->frame;
        if (f.type == spdy::Type::data) {
          if (f.stream_id == stdout_id) write_fd_all(io.out, f.data);
          if (f.stream_id == stderr_id) write_fd_all(io.err, f.data);
          if (f.stream_id == error_id) outcome.status += f.data;
          if (f.fin() && open.count(f.stream_id)) open[f.stream_id] = false;
        } else if (f.type == spdy::Type::rst_stream || (f.type == spdy::Type::syn_reply && f.fin())) {
          if (open.count(f.stream_id)) open[f.stream_id] = false;
        } else if (f.type == spdy::Type::goaway) {
          for (auto& [id, o] : open) o = false;
        }
      }
    }
    if (conn.broken()) break;
  }
  outcome.exit_code = exit_code_of_status(outcome.status);
  return outcome;
}

std::string run_port_forward_client(Connection& conn, const std::vector<std::pair<int, uint16_t>>& listeners,
                                    int stop_fd) {
  struct Local {
    UniqueFd fd;
    uint32_t error_id = 0, data_id = 0;
    bool local_eof = false, remote_eof = false;
  };
  std::map<uint32_t, Local> locals;  // by data stream id
  uint32_t next_request = 0;
  for (;;) {
    std::vector<pollfd> p = {{conn.fd(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
    for (auto [fd, port] : listeners) p.push_back({fd, POLLIN, 0});
    std::vector<uint32_t> ids;
    for (auto& [id, l] : locals) {
      p.push_back({l.local_eof ? -1 : l.fd.get(), POLLIN, 0});
      ids.push_back(id);
    }
    if (::poll(p.data(), p.size(), 5000) < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll port forward");
    }
    if (p[1].revents != 0) return "stopped";
    size_t at = 2;
    for (auto [fd, port] : listeners) {
      if (p[at++].revents == 0) continue;
      UniqueFd c(::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) continue;
      std::string request_id = std::to_string(next_request++);
      spdy::Headers h = {{"streamtype", "error"}, {"port", std::to_string(port)}, {"requestid", request_id}};
      uint32_t error_id = conn.open_stream(h, true);  // the client only reads the error stream
      h[0].second = "data";
      uint32_t data_id = conn.open_stream(h);
      locals[data_id] = Local{std::move(c), error_id, data_id};
    }
    for (uint32_t id : ids) {
      auto it = locals.find(id);
      if (p[at++].revents == 0 || it == locals.end()) continue;
      char buf[32 * 1024];
      ssize_t n = ::recv(it->second.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        conn.data(id, std::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        conn.data(id, {}, true);
        it->second.local_eof = true;
      }
    }
    if (p[0].revents != 0) {
      if (!conn.read_some()) return "connection closed by the server";
      while (auto r = conn.next()) {
        const spdy::Frame& f = r->frame;
        if (f.type == spdy::Type::goaway) return "the server ended the session";
        if (f.type == spdy::Type::data) {
          if (auto it = locals.find(f.stream_id); it != locals.end()) {
            write_fd_all(it->second.fd.get(), f.data);
            if (f.fin()) {
              ::shutdown(it->second.fd.get(), SHUT_WR);
              it->second.remote_eof = true;
            }
          } else {
            for (auto& [id, l] : locals) {
              if (l.error_id == f.stream_id && !f.data.empty()) return "error from the server: " + f.data;
            }
          }
        } else if (f.type == spdy::Type::rst_stream) {
          locals.erase(f.stream_id);
        }
      }
    }
    for (auto it = locals.begin(); it != locals.end();) {
      it = it->second.local_eof && it->second.remote_eof ? locals.erase(it) : std::next(it);
    }
    if (conn.broken()) return "connection to the server lost";
  }
}

}  // namespace vpcri::streaming

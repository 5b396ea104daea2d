#include "cri/streaming/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/log.h"
#include "cri/streaming/connection.h"
#include "cri/streaming/http.h"
#include "cri/streaming/port_forward.h"
#include "cri/streaming/remote_command.h"
#include "cri/streaming/websocket.h"
#include "cri/streaming/websocket_session.h"

namespace vpcri::streaming {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : " ") + i;
  return out;
}

bool contains_ci(std::string haystack, std::string_view needle) {
  std::transform(haystack.begin(), haystack.end(), haystack.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return haystack.find(needle) != std::string::npos;
}

// The route and token of a request target, or throws 404.
std::pair<Kind, std::string> route(const std::string& target) {
  for (Kind kind : {Kind::exec, Kind::attach, Kind::port_forward}) {
    std::string prefix = std::string("/") + kind_path(kind) + "/";
    if (target.compare(0, prefix.size(), prefix) == 0) {
      std::string token = target.substr(prefix.size());
      token = token.substr(0, token.find('?'));  // kubelet may pass query parameters along
      if (!token.empty() && token.find('/') == std::string::npos) return {kind, token};
    }
  }
  throw http::HttpError{404, "404 page not found\n"};
}

// The protocol both sides speak: the client's first that we support (httpstream.Handshake).
std::string negotiate(const http::Message& req, const std::vector<std::string>& supported,
                      std::vector<std::pair<std::string, std::string>>& reply_headers) {
  std::vector<std::string> offered = req.values("x-stream-protocol-version");
  if (offered.empty()) throw http::HttpError{400, "unable to upgrade: X-Stream-Protocol-Version is required"};
  for (const auto& p : offered) {
    if (std::find(supported.begin(), supported.end(), p) != supported.end()) return p;
  }
  for (const auto& s : supported) reply_headers.emplace_back("X-Accepted-Stream-Protocol-Versions", s);
  throw http::HttpError{403, "unable to upgrade: unable to negotiate protocol: client supports [" + join(offered) +
                                 "], server accepts [" + join(supported) + "]"};
}

// Checks a WebSocket upgrade (RFC 6455 4.2.1) and picks the client's first subprotocol we serve
// ("" when it offered none); returns the 101's headers.
std::vector<std::pair<std::string, std::string>> websocket_handshake(const http::Message& req, std::string& protocol) {
  std::string key = req.value("sec-websocket-key");
  if (key.empty()) throw http::HttpError{400, "unable to upgrade: Sec-WebSocket-Key is required"};
  if (req.value("sec-websocket-version") != "13") {
    throw http::HttpError{400, "unable to upgrade: Sec-WebSocket-Version must be 13"};
  }
  if (!contains_ci(req.value("connection"), "upgrade")) {
    throw http::HttpError{400, "unable to upgrade: missing upgrade headers in request"};
  }
  const auto& supported = websocket_remote_command_protocols();
  std::vector<std::string> offered = req.values("sec-websocket-protocol");
  protocol.clear();
  for (const auto& p : offered) {
    if (std::find(supported.begin(), supported.end(), p) != supported.end()) {
      protocol = p;
      break;
    }
  }
  if (!offered.empty() && protocol.empty()) {
    throw http::HttpError{403, "unable to upgrade: unable to negotiate protocol: client supports [" + join(offered) +
                                   "], server accepts [" + join(supported) + "]"};
  }
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", websocket::accept_key(key)}};
  if (!protocol.empty()) headers.emplace_back("Sec-WebSocket-Protocol", protocol);
  return headers;
}

}  // namespace

const char* kind_path(Kind kind) {
  switch (kind) {
    case Kind::exec: return "exec";
    case Kind::attach: return "attach";
    case Kind::port_forward: return "portforward";
  }
  return "";
}

Server::Server(ServerConfig config, TokenCache& tokens) : config_(std::move(config)), tokens_(tokens) {
  if (!config_.tls_cert_file.empty() || !config_.tls_key_file.empty()) {
    tls_ = std::make_unique<tls::ServerContext>(config_.tls_cert_file, config_.tls_key_file);
  }
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  bool ipv6 = false;
  if (::inet_pton(AF_INET, config_.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(config_.port);
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, config_.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(config_.port);
    len = sizeof *v6;
    ipv6 = true;
  } else {
    throw Error(Errc::invalid_argument, "streaming address \"" + config_.address + "\" is not an IP address");
  }
  listener_ = UniqueFd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener_) throw_errno("socket for the streaming server");
  int one = 1;
  ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    throw_errno("bind the streaming server to " + config_.address + ":" + std::to_string(config_.port));
  }
  if (::listen(listener_.get(), 128) != 0) throw_errno("listen on the streaming server");
  if (::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) throw_errno("getsockname");
  port_ = ntohs(ipv6 ? v6->sin6_port : v4->sin_port);
  base_ = (tls_ ? "https://" : "http://") + (ipv6 ? "[" + config_.address + "]" : config_.address) + ":" + std::to_string(port_) + "/";
  stop_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_) throw_errno("eventfd for the streaming server");
  acceptor_ = std::thread([this] { accept_loop(); });
}

Server::~Server() {
  uint64_t one = 1;
  if (::write(stop_.get(), &one, sizeof one) < 0) log::error("cannot signal the streaming server to stop");
  acceptor_.join();
  // Sessions see the stop fd too; each ends its process or pod sockets on the way out.
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return active_ == 0; });
}

std::string Server::url(Kind kind, const std::string& token) const { return base_ + kind_path(kind) + "/" + token; }

void Server::accept_loop() {
  for (;;) {
    pollfd p[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("streaming server: poll failed", {{"error", std::strerror(errno)}});
      return;
    }
    if (p[1].revents != 0) return;
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;  // the peer gave up already, or out of fds: try again at the next one
    if (active_ >= config_.max_sessions) {
      timeval tv{1, 0};
      ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      http::write_all(client.get(), http::response(503, {{"Retry-After", "1"}}, "too many streaming sessions\n"));
      continue;
    }
    active_++;
    try {
      std::thread([this, c = std::move(client)]() mutable {
        if (tls_) {
          tls_->serve(std::move(c), config_.head_timeout, [this](UniqueFd plain) { serve(std::move(plain)); });
        } else {
          serve(std::move(c));
        }
        std::lock_guard lock(mu_);
        if (--active_ == 0) idle_.notify_all();
      }).detach();
    } catch (const std::system_error& e) {  // no thread for it: the client is closed
      std::lock_guard lock(mu_);
      if (--active_ == 0) idle_.notify_all();
      log::warn("streaming server: cannot start a session thread", {{"error", e.what()}});
    }
  }
}

void Server::serve(UniqueFd client) {
  int one = 1;
  ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // A peer that stops reading cannot hold a session thread forever.
  auto send_limit = std::min<std::chrono::milliseconds>(config_.idle_timeout, std::chrono::minutes(1));
  timeval tv{static_cast<time_t>(send_limit.count() / 1000), static_cast<suseconds_t>(send_limit.count() % 1000 * 1000)};
  ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string rest, protocol;
  std::shared_ptr<const Request> request;
  bool websocket = false;
  try {
    http::Message req = http::parse_request(http::read_head(client.get(), config_.head_timeout, rest));
    auto [kind, token] = route(req.target);
    if (req.method != "GET" && req.method != "POST") throw http::HttpError{405, "method not allowed\n"};
    request = tokens_.consume(token);
    if (!request || request->kind != kind) throw http::HttpError{404, "404 page not found\n"};
    std::vector<std::pair<std::string, std::string>> headers;
    if (contains_ci(req.value("upgrade"), "websocket")) {
      if (kind == Kind::port_forward) {
        throw http::HttpError{400, "unable to upgrade: WebSocket port forwarding is not supported; use SPDY/3.1"};
      }
      headers = websocket_handshake(req, protocol);
      if (!http::write_all(client.get(), http::response(101, headers, ""))) return;
      websocket = true;
    } else {
    static const std::vector<std::string> port_forward_protocols = {kPortForwardProtocol};
    protocol = negotiate(req, kind == Kind::port_forward ? port_forward_protocols : remote_command_protocols(), headers);
    if (!contains_ci(req.value("connection"), "upgrade") || !contains_ci(req.value("upgrade"), "spdy/3.1")) {
      throw http::HttpError{400, "unable to upgrade: missing upgrade headers in request"};
    }
    headers = {{"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"}, {"X-Stream-Protocol-Version", protocol}};
    if (!http::write_all(client.get(), http::response(101, headers, ""))) return;
    }
  } catch (const http::HttpError& e) {
    http::write_all(client.get(), http::response(e.status, {}, e.body));
    http::shutdown_and_drain(client.get(), std::chrono::seconds(1));
    return;
  }

  SessionLimits limits{config_.idle_timeout, config_.stream_creation_timeout, stop_.get()};
  if (websocket) {
    try {
      run_websocket_remote_command(std::move(client), std::move(rest), *request, protocol, limits);
    } catch (const std::exception& e) {
      log::warn("websocket streaming session ended", {{"kind", kind_path(request->kind)}, {"target", request->target},
                                                      {"error", e.what()}});
    }
    return;
  }
  Connection conn(std::move(client), Connection::Role::server, std::move(rest));
  try {
    if (request->kind == Kind::port_forward) {
      run_port_forward(conn, *request, limits);
    } else {
      run_remote_command(conn, *request, protocol, limits);
    }
  } catch (const std::exception& e) {
    // A protocol error or an internal failure ends this session, never the daemon.
    log::warn("streaming session ended", {{"kind", kind_path(request->kind)}, {"target", request->target},
                                          {"error", e.what()}});
  }
  conn.close();
}

}  // namespace vpcri::streaming

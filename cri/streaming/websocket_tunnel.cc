#include "cri/streaming/websocket_tunnel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/error.h"
#include "common/log.h"
#include "cri/streaming/client.h"
#include "cri/streaming/port_forward.h"

namespace vpcri::streaming {
namespace {

namespace ws = websocket;

constexpr size_t kMaxMessage = 1 << 20;
constexpr size_t kMaxBuffered = 1 << 20;  // for the plain side; past it the WebSocket is not read

std::pair<UniqueFd, UniqueFd> stream_socketpair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair for the SPDY tunnel");
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

}  // namespace

void relay_websocket_tunnel(ws::Endpoint& endpoint, int plain_fd, int stop_fd) {
  ::fcntl(plain_fd, F_SETFL, ::fcntl(plain_fd, F_GETFL) | O_NONBLOCK);
  std::string to_plain;
  try {
    for (;;) {
      pollfd p[3] = {{to_plain.size() < kMaxBuffered ? endpoint.fd() : -1, POLLIN, 0},
                     {plain_fd, static_cast<short>(POLLIN | (to_plain.empty() ? 0 : POLLOUT)), 0},
                     {stop_fd, POLLIN, 0}};
      if (::poll(p, 3, -1) < 0) {
        if (errno == EINTR) continue;
        throw_errno("poll the SPDY tunnel");
      }
      if (p[2].revents != 0) break;
      if (p[0].revents != 0) {
        if (!endpoint.read_some()) return;  // the peer is gone: nothing more to send it
        while (auto m = endpoint.next()) {
          if (m->opcode != ws::Opcode::binary) {
            throw ws::ProtocolError(ws::kCloseProtocolError, "websocket: the SPDY tunnel carries binary messages only");
          }
          to_plain += m->payload;
        }
        if (endpoint.peer_closed()) break;
      }
      if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[32 * 1024];
        ssize_t n = ::recv(plain_fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
          endpoint.send(ws::Opcode::binary, std::string_view(buf, static_cast<size_t>(n)));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          break;  // the SPDY side ended
        }
      }
      while (!to_plain.empty()) {
        ssize_t n = ::send(plain_fd, to_plain.data(), to_plain.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n < 0) return endpoint.close(ws::kCloseNormal);
        to_plain.erase(0, static_cast<size_t>(n));
      }
      if (endpoint.broken()) return;
    }
  } catch (const ws::ProtocolError& e) {
    endpoint.close(e.code, e.what());
    return;
  }
  endpoint.close(ws::kCloseNormal);
}

void run_spdy_tunnel_port_forward(UniqueFd socket, std::string already_read, const Request& request,
                                  const SessionLimits& limits) {
  auto [relay_end, session_end] = stream_socketpair();
  // The SPDY session on its own thread, unchanged: it sees a socket that carries SPDY.
  std::jthread session([&request, &limits, fd = std::move(session_end)]() mutable {
    Connection conn(std::move(fd), Connection::Role::server);
    try {
      run_port_forward(conn, request, limits);
    } catch (const std::exception& e) {
      log::warn("streaming session ended", {{"kind", "portforward (SPDY tunnel)"}, {"target", request.target},
                                            {"error", e.what()}});
    }
    conn.close();
  });
  ws::Endpoint endpoint(socket.get(), ws::Endpoint::Role::server, already_read, kMaxMessage);
  try {
    relay_websocket_tunnel(endpoint, relay_end.get(), limits.stop_fd);
  } catch (...) {
    relay_end.reset();  // the session sees EOF and ends, so the join below returns
    throw;
  }
  relay_end.reset();
}

SpdyTunnelClient::SpdyTunnelClient(const std::string& url) {
  std::string rest, protocol;
  socket_ = websocket_connect(url, kSpdyTunnelProtocol, rest, protocol);
  if (protocol != kSpdyTunnelProtocol) {
    throw Error(Errc::failed_precondition, "unable to upgrade connection: the server chose \"" + protocol + "\"");
  }
  auto [relay_end, session_end] = stream_socketpair();
  conn_ = std::make_unique<Connection>(std::move(session_end), Connection::Role::client);
  relay_ = std::thread([this, rest, fd = std::move(relay_end)] {
    try {
      ws::Endpoint endpoint(socket_.get(), ws::Endpoint::Role::client, rest, 1 << 22);
      relay_websocket_tunnel(endpoint, fd.get(), -1);
    } catch (const std::exception& e) {
      log::warn("SPDY tunnel relay ended", {{"error", e.what()}});
    }
  });
}

SpdyTunnelClient::~SpdyTunnelClient() {
  conn_.reset();  // the relay sees EOF, closes the WebSocket and returns
  relay_.join();
}

}  // namespace vpcri::streaming

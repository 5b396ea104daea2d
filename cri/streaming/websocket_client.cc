// vpcrictl's and the tests' WebSocket clients (the server sides are websocket_session.h and
// websocket_port_forward.h): the handshake, then exec/attach over v5.channel.k8s.io and one
// forwarded connection over the v4 port forward protocol.
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "cri/streaming/client.h"
#include "cri/streaming/http.h"
#include "cri/streaming/websocket_endpoint.h"

namespace vpcri::streaming {
namespace {

namespace ws = websocket;

std::string random_key() {
  unsigned char raw[16];
  if (::getrandom(raw, sizeof raw, 0) != sizeof raw) throw_errno("getrandom");
  return ws::base64_encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
}

void write_out(int fd, std::string_view data) {
  while (fd >= 0 && !data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

UniqueFd websocket_connect(const std::string& url, const std::string& protocols, std::string& rest,
                           std::string& protocol) {
  std::string path, host_port;
  UniqueFd fd = dial_url(url, path, host_port);
  std::string key = random_key();
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host_port +
                    "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Protocol: " + protocols + "\r\n\r\n";
  if (!http::write_all(fd.get(), req)) throw_errno("send the WebSocket upgrade request");
  http::Message resp = read_upgrade_response(fd.get(), rest);
  if (resp.value("sec-websocket-accept") != ws::accept_key(key)) {
    throw Error(Errc::failed_precondition, "unable to upgrade connection: wrong Sec-WebSocket-Accept");
  }
  protocol = resp.value("sec-websocket-protocol");
  return fd;
}

ExecOutcome run_websocket_exec_client(const std::string& url, const ExecClientIo& io) {
  std::string rest, protocol;
  UniqueFd fd = websocket_connect(url, "v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io", rest, protocol);
  ws::Endpoint server(fd.get(), ws::Endpoint::Role::client, rest, 1 << 22);
  const bool v5 = protocol == "v5.channel.k8s.io";
  auto send_channel = [&](uint8_t channel, std::string_view data) {
    ws::send_channel(server, false, channel, data);
    if (server.broken()) throw Error(Errc::unavailable, "the streaming server went away");
  };
  if (io.tty && io.size) send_channel(4, size_json(*io.size));

  ExecOutcome outcome;
  int in = io.in;
  for (;;) {
    while (auto m = server.next()) {
      auto message = ws::decode_channel(*m, false);
      if (!message) continue;
      if (message->first == 1) write_out(io.out, message->second);
      if (message->first == 2) write_out(io.err, message->second);
      if (message->first == 3) outcome.status.append(message->second);
    }
    if (server.peer_closed()) break;
    pollfd p[3] = {{fd.get(), POLLIN, 0}, {in, POLLIN, 0}, {io.resize_fd, POLLIN, 0}};
    if (::poll(p, 3, 5000) < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll exec session");
    }
    if (p[1].revents != 0) {
      char buf[32 * 1024];
      ssize_t n = ::read(in, buf, sizeof buf);
      if (n > 0) {
        send_channel(0, std::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        if (v5) send_channel(255, std::string(1, '\0'));  // stdin EOF
        in = -1;
      }
    }
    if (p[2].revents != 0 && io.current_size) {
      uint64_t ignored;
      if (::read(io.resize_fd, &ignored, sizeof ignored) < 0) { /* a signalfd or eventfd; nothing to do */ }
      if (auto s = io.current_size()) send_channel(4, size_json(*s));
    }
    if (p[0].revents != 0 && !server.read_some()) break;
  }
  outcome.exit_code = exit_code_of_status(outcome.status);
  return outcome;
}

std::string run_websocket_port_forward_client(const std::string& url, int local_fd, uint16_t port, int stop_fd) {
  std::string rest, protocol;
  std::string port_url = url + (url.find('?') == std::string::npos ? "?" : "&") + "port=" + std::to_string(port);
  UniqueFd fd = websocket_connect(port_url, "v4.channel.k8s.io", rest, protocol);
  ws::Endpoint server(fd.get(), ws::Endpoint::Role::client, rest, 1 << 22);
  // Each channel's first 2 bytes are the port (little-endian), then data or error text.
  std::string prefix[2];
  std::string error;
  bool local_eof = false;
  for (;;) {
    while (auto m = server.next()) {
      auto message = ws::decode_channel(*m, false);
      if (!message || message->first > 1) continue;
      std::string_view data = message->second;
      std::string& p = prefix[message->first];
      if (p.size() < 2) {
        size_t take = std::min(data.size(), 2 - p.size());
        p.append(data.substr(0, take));
        data.remove_prefix(take);
        if (p.size() == 2 && static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | static_cast<uint8_t>(p[1]) << 8) != port) {
          throw Error(Errc::failed_precondition, "port forward: the server answered for another port");
        }
      }
      if (message->first == 0) write_out(local_fd, data);
      if (message->first == 1) error.append(data);
    }
    if (server.peer_closed() || server.broken()) break;
    pollfd p[3] = {{fd.get(), POLLIN, 0}, {local_eof ? -1 : local_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll port forward");
    }
    if (p[2].revents != 0) {
      server.close(ws::kCloseNormal);
      return "stopped";
    }
    if (p[1].revents != 0) {
      char buf[32 * 1024];
      ssize_t n = ::recv(local_fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        ws::send_channel(server, false, 0, std::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        local_eof = true;  // the protocol has no half-close: the pod's side ends the connection
      }
    }
    if (p[0].revents != 0 && !server.read_some()) break;
  }
  ::shutdown(local_fd, SHUT_WR);
  return error;
}

}  // namespace vpcri::streaming

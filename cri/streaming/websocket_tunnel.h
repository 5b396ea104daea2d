// SPDY/3.1+portforward.k8s.io: an ordinary portforward.k8s.io SPDY session whose byte stream
// travels in binary WebSocket messages (what kubectl 1.31+ speaks through the API server; no
// second HTTP upgrade inside the tunnel). A byte-stream adaptor: a relay between the WebSocket
// and one end of a socketpair, whose other end is the unchanged SPDY Connection, on a thread of
// its own (the SPDY session loop blocks in its own poll).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "common/fd.h"
#include "cri/streaming/connection.h"
#include "cri/streaming/session.h"
#include "cri/streaming/websocket_endpoint.h"

namespace vpcri::streaming {

constexpr const char* kSpdyTunnelProtocol = "SPDY/3.1+portforward.k8s.io";

// Relays until either side ends: the WebSocket's binary messages to `plain_fd`, what `plain_fd`
// yields as binary messages. A text message (or any other broken frame) closes the WebSocket
// with 1002; `plain_fd`'s EOF, the peer's close or `stop_fd` closes it normally.
void relay_websocket_tunnel(websocket::Endpoint& endpoint, int plain_fd, int stop_fd);

// The server side: runs run_port_forward over the tunnel on an upgraded socket.
void run_spdy_tunnel_port_forward(UniqueFd socket, std::string already_read, const Request& request,
                                  const SessionLimits& limits);

// The client side (the tests'): connects to `url` offering kSpdyTunnelProtocol; `conn()` is an
// ordinary SPDY client connection (for run_port_forward_client). Throws vpcri::Error when the
// server refuses.
class SpdyTunnelClient {
 public:
  explicit SpdyTunnelClient(const std::string& url);
  ~SpdyTunnelClient();  // closes the connection and waits for the relay to end
  SpdyTunnelClient(const SpdyTunnelClient&) = delete;
  SpdyTunnelClient& operator=(const SpdyTunnelClient&) = delete;
  Connection& conn() { return *conn_; }

 private:
  UniqueFd socket_;
  std::unique_ptr<Connection> conn_;
  std::thread relay_;
};

}  // namespace vpcri::streaming

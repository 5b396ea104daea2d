// One end of an upgraded WebSocket connection, as a session loop uses it from one thread: reads
// what the socket has into messages (pings answered, a close frame answered and reported), sends
// frames with blocking writes (the socket's send timeout bounds a peer that stops reading), masked
// on the client side. Also the channel messages of the channel.k8s.io protocols: a channel byte
// and data, or for the base64 protocols a text message of '0'+channel and base64.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cri/streaming/websocket.h"

namespace vpcri::streaming::websocket {

class Endpoint {
 public:
  enum class Role { server, client };
  // `already_read`: bytes that came behind the HTTP head.
  Endpoint(int fd, Role role, std::string_view already_read, size_t max_message = 1 << 20);

  int fd() const { return fd_; }
  void send(Opcode opcode, std::string_view payload);
  // Reads once from the socket (call when poll says readable). False at EOF or on a socket error.
  bool read_some();
  // The next text or binary message, nullopt until one is complete or once the peer's close
  // frame came (answered; `peer_closed()` is then true). Throws ProtocolError.
  std::optional<Message> next();
  // A close frame (unless one was sent), then half-close and wait (1 s at most) for the peer to
  // close, so what we sent is not lost to a reset.
  void close(uint16_t code, std::string_view reason = {});

  bool peer_closed() const { return peer_closed_; }
  bool broken() const { return broken_; }  // a write failed: the peer is gone
  std::chrono::steady_clock::time_point last_activity() const { return last_activity_; }

 private:
  int fd_;
  Role role_;
  Parser parser_;
  bool peer_closed_ = false;
  bool close_sent_ = false;
  bool broken_ = false;
  std::chrono::steady_clock::time_point last_activity_;
};

// Sends `data` on `channel` (binary, or base64 text).
void send_channel(Endpoint& endpoint, bool base64, uint8_t channel, std::string_view data);
// A data message's channel and data (base64 decoded). nullopt for an empty message. Throws
// ProtocolError on a bad base64 message.
std::optional<std::pair<uint8_t, std::string>> decode_channel(const Message& message, bool base64);

}  // namespace vpcri::streaming::websocket

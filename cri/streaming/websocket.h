// WebSocket (RFC 6455) framing for the streaming server's WebSocket protocols (channel.k8s.io
// over WebSocket): the handshake's accept key, frame encoding, and an incremental parser that
// enforces the RFC's rules (masked client frames, control frames short and unfragmented,
// continuation only inside a fragmented message, a cap on message size). No sockets here, so
// every rule is unit tested with hand-built frames.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/text.h"

namespace vpcri::streaming::websocket {

// base64(SHA-1(key + the RFC's GUID)): the Sec-WebSocket-Accept for a Sec-WebSocket-Key.
std::string accept_key(std::string_view client_key);

enum class Opcode : uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Close codes (RFC 6455 7.4.1).
constexpr uint16_t kCloseNormal = 1000;
constexpr uint16_t kCloseProtocolError = 1002;
constexpr uint16_t kCloseTooBig = 1009;

// A frame that breaks the protocol: the peer gets a close frame with `code`, then the connection ends.
struct ProtocolError : std::runtime_error {
  ProtocolError(uint16_t close_code, const std::string& what) : std::runtime_error(what), code(close_code) {}
  uint16_t code;
};

// A complete message (fragments joined), or a control frame (which may come between fragments).
struct Message {
  Opcode opcode = Opcode::binary;
  std::string payload;  // unmasked
};

class Parser {
 public:
  // `from_client`: frames must be masked (a server's parser); else they must not be.
  Parser(bool from_client, size_t max_message) : from_client_(from_client), max_message_(max_message) {}
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete message or control frame, nullopt until more bytes come. Throws ProtocolError.
  std::optional<Message> next();

 private:
  bool from_client_;
  size_t max_message_;
  std::string buffer_;
  std::optional<Message> partial_;  // a fragmented data message being assembled
};

// One frame; `mask` (a client's frames) masks the payload with that key.
std::string frame(Opcode opcode, std::string_view payload, bool fin = true, std::optional<uint32_t> mask = std::nullopt);
// A close frame's payload: the code, big-endian, then the reason.
std::string close_payload(uint16_t code, std::string_view reason = {});

// Standard base64, as the base64.channel.k8s.io protocols carry data: common/text's encoder; a
// stricter decoder here (whole 4-character groups; OpenSSL's) that throws ProtocolError (1002)
// on malformed input.
using vpcri::base64_encode;
std::string base64_decode(std::string_view in);

}  // namespace vpcri::streaming::websocket

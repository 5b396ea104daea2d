// One SPDY/3 connection over a connected socket, as a session loop uses it from one thread: it
// reads what the socket has into frames (PINGs echoed, SETTINGS and WINDOW_UPDATE ignored, as
// spdystream does), decodes header blocks, and writes frames with blocking sends (the socket's
// send timeout bounds a peer that stops reading). Server (even stream ids) or client (odd ones).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/fd.h"
#include "cri/streaming/spdy.h"

namespace vpcri::streaming {

// A frame with its header block decoded (SYN_STREAM, SYN_REPLY, HEADERS).
struct Received {
  spdy::Frame frame;
  spdy::Headers headers;
};

class Connection {
 public:
  enum class Role { server, client };
  // `already_read`: bytes that came behind the HTTP head.
  Connection(UniqueFd socket, Role role, std::string already_read = {});

  int fd() const { return socket_.get(); }
  // Reads once from the socket (call when poll says readable). False at EOF or on a socket error.
  bool read_some();
  // The next frame read, or nullopt. Throws spdy::ProtocolError on a malformed one, and for a
  // SYN_STREAM whose id is not the peer's next one.
  std::optional<Received> next();

  uint32_t open_stream(const spdy::Headers& headers, bool fin = false);  // SYN_STREAM; returns its id
  void reply(uint32_t stream_id);                                        // SYN_REPLY, empty block
  // DATA in frames of at most 32 KiB (Go peers' size); an empty payload with `fin` half-closes.
  void data(uint32_t stream_id, std::string_view payload, bool fin = false);
  void reset(uint32_t stream_id, spdy::RstStatus status);
  void goaway();
  void ping();
  // Ends the connection politely: GOAWAY, half-close, then wait (at most `linger`) for the peer to
  // close, so what we sent is not lost to a TCP reset over unread bytes.
  void close(std::chrono::milliseconds linger = std::chrono::milliseconds(2000));

  bool broken() const { return broken_; }  // a write failed: the peer is gone
  std::chrono::steady_clock::time_point last_activity() const { return last_activity_; }
  uint32_t last_peer_stream() const { return last_peer_stream_; }

 private:
  void send(const std::string& bytes);

  UniqueFd socket_;
  Role role_;
  spdy::FrameParser parser_;
  spdy::HeaderCodec codec_in_, codec_out_;  // (one object holds both directions; two keep it simple)
  uint32_t next_own_stream_;
  uint32_t last_peer_stream_ = 0;
  uint32_t next_ping_;
  bool broken_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace vpcri::streaming

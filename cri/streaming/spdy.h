// SPDY/3 framing as moby/spdystream speaks it (the transport of kubectl exec/attach/port-forward):
// frame encoding, an incremental frame parser and the zlib header-block codec. Shared by the
// streaming server and vpcrictl's client; no sockets here, so every frame is unit tested by hand.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace vpcri::streaming::spdy {

enum class Type : uint16_t {
  data = 0,  // not a control frame; here so that every Frame has a type
  syn_stream = 1,
  syn_reply = 2,
  rst_stream = 3,
  settings = 4,
  ping = 6,
  goaway = 7,
  headers = 8,
  window_update = 9,
};

constexpr uint8_t kFlagFin = 0x01;
constexpr uint8_t kFlagUnidirectional = 0x02;

// RST_STREAM status codes.
enum class RstStatus : uint32_t {
  protocol_error = 1,
  invalid_stream = 2,
  refused_stream = 3,
  cancel = 5,
  internal_error = 6,
  stream_in_use = 8,
  stream_already_closed = 9,
  frame_too_large = 11,
};

// Name/value pairs in wire order; names lowercase. Several values of one name travel joined by NUL.
using Headers = std::vector<std::pair<std::string, std::string>>;
// The first value of `name`, or "" when absent.
std::string header_value(const Headers& headers, std::string_view name);

struct Frame {
  Type type = Type::data;
  uint8_t flags = 0;
  uint32_t stream_id = 0;  // data, syn_stream, syn_reply, rst_stream, headers, window_update; goaway: last good id
  uint32_t status = 0;     // rst_stream, goaway; window_update: delta
  uint32_t ping_id = 0;
  std::string data;        // data: payload; syn_stream/syn_reply/headers: the compressed header block
  bool fin() const { return (flags & kFlagFin) != 0; }
};

// A peer broke the protocol (bad frame, bad header block). The connection cannot go on.
class ProtocolError : public Error {
 public:
  explicit ProtocolError(const std::string& what) : Error(Errc::invalid_argument, "spdy: " + what) {}
};

constexpr size_t kFrameHeaderSize = 8;
constexpr uint32_t kMaxStreamId = 0x7fffffff;

// Frame bytes. `block` is an already compressed header block (HeaderCodec::compress).
std::string encode_data(uint32_t stream_id, std::string_view payload, bool fin);
std::string encode_syn_stream(uint32_t stream_id, std::string_view block, bool fin);
std::string encode_syn_reply(uint32_t stream_id, std::string_view block, bool fin);
std::string encode_rst_stream(uint32_t stream_id, RstStatus status);
std::string encode_ping(uint32_t id);
std::string encode_goaway(uint32_t last_good_stream_id, uint32_t status = 0);
std::string encode_settings(const std::vector<std::pair<uint32_t, uint32_t>>& id_values);

// Cuts a byte stream into frames. Frames longer than `max_frame` are refused (the 24-bit length
// allows 16 MiB; Go peers write at most 32 KiB of data per frame). Throws ProtocolError on a frame
// that cannot be valid: unknown control type, wrong length for its type, a zero stream id.
class FrameParser {
 public:
  explicit FrameParser(size_t max_frame = 1 << 20) : max_frame_(max_frame) {}
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete frame, or nullopt until more bytes arrive.
  std::optional<Frame> next();
  size_t buffered() const { return buffer_.size(); }

 private:
  size_t max_frame_;
  std::string buffer_;
  size_t offset_ = 0;  // consumed bytes at the front of buffer_
};

// One zlib stream per direction per connection, preset with the SPDY/3 dictionary; each block
// ends with a sync flush, so a frame holds exactly its block.
class HeaderCodec {
 public:
  HeaderCodec();
  ~HeaderCodec();
  HeaderCodec(const HeaderCodec&) = delete;
  HeaderCodec& operator=(const HeaderCodec&) = delete;

  std::string compress(const Headers& headers);
  // Throws ProtocolError on a corrupt stream, a block that decodes to more than `max_size`
  // bytes, uppercase or duplicate names, or trailing bytes.
  Headers decompress(std::string_view block, size_t max_size = 64 * 1024);

 private:
  z_stream deflate_{};
  z_stream inflate_{};
};

}  // namespace vpcri::streaming::spdy

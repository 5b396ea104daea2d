#include "cri/streaming/spdy.h"

#include <algorithm>
#include <set>

#include "cri/streaming/spdy_dictionary.h"

namespace vpcri::streaming::spdy {
namespace {

constexpr uint16_t kVersion = 3;

void put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t get32(std::string_view s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

void check_length(size_t length) {
  if (length > 0xffffff) throw Error(Errc::invalid_argument, "spdy: a frame payload is limited to 16 MiB - 1");
}

std::string control(Type type, uint8_t flags, std::string_view payload) {
  check_length(payload.size());
  std::string out;
  out.reserve(kFrameHeaderSize + payload.size());
  put32(out, 0x80000000U | kVersion << 16 | static_cast<uint32_t>(type));
  put32(out, static_cast<uint32_t>(flags) << 24 | static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string with_stream_id(uint32_t stream_id, std::string_view rest) {
  std::string p;
  put32(p, stream_id & kMaxStreamId);
  p.append(rest);
  return p;
}

}  // namespace

std::string header_value(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v.substr(0, v.find('\0'));
  }
  return {};
}

std::string encode_data(uint32_t stream_id, std::string_view payload, bool fin) {
  check_length(payload.size());
  std::string out;
  out.reserve(kFrameHeaderSize + payload.size());
  put32(out, stream_id & kMaxStreamId);
  put32(out, (fin ? uint32_t{kFlagFin} << 24 : 0) | static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string encode_syn_stream(uint32_t stream_id, std::string_view block, bool fin) {
  std::string p = with_stream_id(stream_id, {});
  put32(p, 0);           // associated stream id
  p.append(2, '\0');     // priority (top 3 bits) 0, slot 0
  p.append(block);
  return control(Type::syn_stream, fin ? kFlagFin : 0, p);
}

std::string encode_syn_reply(uint32_t stream_id, std::string_view block, bool fin) {
  return control(Type::syn_reply, fin ? kFlagFin : 0, with_stream_id(stream_id, block));
}

std::string encode_rst_stream(uint32_t stream_id, RstStatus status) {
  std::string p = with_stream_id(stream_id, {});
  put32(p, static_cast<uint32_t>(status));
  return control(Type::rst_stream, 0, p);
}

std::string encode_ping(uint32_t id) {
  std::string p;
  put32(p, id);
  return control(Type::ping, 0, p);
}

std::string encode_goaway(uint32_t last_good_stream_id, uint32_t status) {
  std::string p = with_stream_id(last_good_stream_id, {});
  put32(p, status);
  return control(Type::goaway, 0, p);
}

std::string encode_settings(const std::vector<std::pair<uint32_t, uint32_t>>& id_values) {
  std::string p;
  put32(p, static_cast<uint32_t>(id_values.size()));
  for (auto [id, value] : id_values) {
    put32(p, id & 0xffffff);
    put32(p, value);
  }
  return control(Type::settings, 0, p);
}

std::optional<Frame> FrameParser::next() {
  std::string_view avail(buffer_);
  avail.remove_prefix(offset_);
  if (avail.size() < kFrameHeaderSize) return std::nullopt;
  uint32_t word0 = get32(avail, 0), word1 = get32(avail, 4);
  size_t length = word1 & 0xffffff;
  if (length > max_frame_) {
    throw ProtocolError("frame of " + std::to_string(length) + " bytes exceeds the limit of " + std::to_string(max_frame_));
  }
  if (avail.size() < kFrameHeaderSize + length) return std::nullopt;
  std::string_view payload = avail.substr(kFrameHeaderSize, length);
  Frame f;
  f.flags = static_cast<uint8_t>(word1 >> 24);
  auto need = [&](size_t min, bool exact, const char* what) {
    if (payload.size() < min || (exact && payload.size() != min)) {
      throw ProtocolError(std::string(what) + " frame with a payload of " + std::to_string(payload.size()) + " bytes");
    }
  };
  if ((word0 & 0x80000000U) == 0) {
    f.type = Type::data;
    f.stream_id = word0;
    if (f.stream_id == 0) throw ProtocolError("DATA frame on stream 0");
    f.data.assign(payload);
  } else {
    // The version field is not checked, as spdystream does not check it either.
    switch (static_cast<Type>(word0 & 0xffff)) {
      case Type::syn_stream:
        need(10, false, "SYN_STREAM");
        f.type = Type::syn_stream;
        f.stream_id = get32(payload, 0) & kMaxStreamId;
        f.data.assign(payload.substr(10));
        break;
      case Type::syn_reply:
      case Type::headers:
        need(4, false, "SYN_REPLY/HEADERS");
        f.type = static_cast<Type>(word0 & 0xffff);
        f.stream_id = get32(payload, 0) & kMaxStreamId;
        f.data.assign(payload.substr(4));
        break;
      case Type::rst_stream:
      case Type::window_update:
        need(8, true, "RST_STREAM/WINDOW_UPDATE");
        f.type = static_cast<Type>(word0 & 0xffff);
        f.stream_id = get32(payload, 0) & kMaxStreamId;
        f.status = get32(payload, 4);
        break;
      case Type::goaway:
        need(8, true, "GOAWAY");
        f.type = Type::goaway;
        f.stream_id = get32(payload, 0) & kMaxStreamId;
        f.status = get32(payload, 4);
        break;
      case Type::ping:
        need(4, true, "PING");
        f.type = Type::ping;
        f.ping_id = get32(payload, 0);
        if (f.ping_id == 0) throw ProtocolError("PING with id 0");
        break;
      case Type::settings: {
        need(4, false, "SETTINGS");
        uint64_t count = get32(payload, 0);
        if (payload.size() != 4 + 8 * count) throw ProtocolError("SETTINGS count does not match its length");
        f.type = Type::settings;
        break;
      }
      default: throw ProtocolError("unknown control frame type " + std::to_string(word0 & 0xffff));
    }
    if (f.type != Type::ping && f.type != Type::settings && f.type != Type::goaway && f.stream_id == 0) {
      throw ProtocolError("control frame on stream 0");
    }
  }
  offset_ += kFrameHeaderSize + length;
  if (offset_ == buffer_.size() || offset_ > 64 * 1024) {  // compact now and then, not per frame
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return f;
}

HeaderCodec::HeaderCodec() {
  // Level 9 as spdystream; the dictionary is set right away for deflate, on Z_NEED_DICT for inflate.
  if (deflateInit(&deflate_, Z_BEST_COMPRESSION) != Z_OK) throw Error(Errc::internal, "spdy: deflateInit failed");
  if (deflateSetDictionary(&deflate_, kHeaderDictionary, kHeaderDictionarySize) != Z_OK ||
      inflateInit(&inflate_) != Z_OK) {
    deflateEnd(&deflate_);
    throw Error(Errc::internal, "spdy: zlib setup failed");
  }
}

HeaderCodec::~HeaderCodec() {
  deflateEnd(&deflate_);
  inflateEnd(&inflate_);
}

std::string HeaderCodec::compress(const Headers& headers) {
  std::string raw;
  put32(raw, static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    put32(raw, static_cast<uint32_t>(name.size()));
    raw.append(name);
    put32(raw, static_cast<uint32_t>(value.size()));
    raw.append(value);
  }
  std::string out;
  deflate_.next_in = reinterpret_cast<Bytef*>(raw.data());
  deflate_.avail_in = static_cast<uInt>(raw.size());
  char buf[4096];
  do {
    deflate_.next_out = reinterpret_cast<Bytef*>(buf);
    deflate_.avail_out = sizeof buf;
    if (deflate(&deflate_, Z_SYNC_FLUSH) == Z_STREAM_ERROR) throw Error(Errc::internal, "spdy: deflate failed");
    out.append(buf, sizeof buf - deflate_.avail_out);
  } while (deflate_.avail_out == 0);
  return out;
}

Headers HeaderCodec::decompress(std::string_view block, size_t max_size) {
  std::string raw;
  inflate_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  inflate_.avail_in = static_cast<uInt>(block.size());
  char buf[4096];
  for (;;) {
    inflate_.next_out = reinterpret_cast<Bytef*>(buf);
    inflate_.avail_out = sizeof buf;
    int rc = inflate(&inflate_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      if (inflateSetDictionary(&inflate_, kHeaderDictionary, kHeaderDictionarySize) != Z_OK) {
        throw ProtocolError("header block needs an unknown dictionary");
      }
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw ProtocolError("corrupt header block");
    raw.append(buf, sizeof buf - inflate_.avail_out);
    if (raw.size() > max_size) throw ProtocolError("header block larger than " + std::to_string(max_size) + " bytes");
    if (inflate_.avail_out != 0) break;  // everything the input gives is out
  }
  if (inflate_.avail_in != 0) throw ProtocolError("header block has trailing bytes");

  Headers headers;
  std::set<std::string> seen;
  size_t at = 0;
  auto take32 = [&] {
    if (raw.size() - at < 4) throw ProtocolError("truncated header block");
    uint32_t v = get32(raw, at);
    at += 4;
    return v;
  };
  auto take = [&](uint32_t n) {
    if (raw.size() - at < n) throw ProtocolError("truncated header block");
    std::string s = raw.substr(at, n);
    at += n;
    return s;
  };
  uint32_t count = take32();
  for (uint32_t i = 0; i < count; i++) {
    std::string name = take(take32());
    std::string value = take(take32());
    if (name.empty()) throw ProtocolError("empty header name");
    if (std::any_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      throw ProtocolError("uppercase header name " + name);
    }
    if (!seen.insert(name).second) throw ProtocolError("duplicate header name " + name);
    headers.emplace_back(std::move(name), std::move(value));
  }
  if (at != raw.size()) throw ProtocolError("header block has trailing bytes");
  return headers;
}

}  // namespace vpcri::streaming::spdy

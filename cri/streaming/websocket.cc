#include "cri/streaming/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace vpcri::streaming::websocket {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kMaxControlPayload = 125;

bool is_control(Opcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }

bool known(uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

}  // namespace

std::string accept_key(std::string_view client_key) {
  std::string input = std::string(client_key) + std::string(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::optional<Message> Parser::next() {
  for (;;) {
    if (buffer_.size() < 2) return std::nullopt;
    auto byte = [&](size_t i) { return static_cast<uint8_t>(buffer_[i]); };
    bool fin = (byte(0) & 0x80) != 0;
    if ((byte(0) & 0x70) != 0) throw ProtocolError(kCloseProtocolError, "websocket: reserved bits set");
    uint8_t op = byte(0) & 0x0f;
    if (!known(op)) throw ProtocolError(kCloseProtocolError, "websocket: unknown opcode " + std::to_string(op));
    Opcode opcode = static_cast<Opcode>(op);
    bool masked = (byte(1) & 0x80) != 0;
    if (masked != from_client_) {
      throw ProtocolError(kCloseProtocolError, from_client_ ? "websocket: a client frame must be masked"
                                                            : "websocket: a server frame must not be masked");
    }
    uint64_t length = byte(1) & 0x7f;
    size_t at = 2;
    if (length == 126) {
      if (buffer_.size() < 4) return std::nullopt;
      length = (uint64_t{byte(2)} << 8) | byte(3);
      at = 4;
    } else if (length == 127) {
      if (buffer_.size() < 10) return std::nullopt;
      length = 0;
      for (size_t i = 2; i < 10; i++) length = (length << 8) | byte(i);
      if (length >> 63) throw ProtocolError(kCloseProtocolError, "websocket: length with the top bit set");
      at = 10;
    }
    if (is_control(opcode) && (!fin || length > kMaxControlPayload)) {
      throw ProtocolError(kCloseProtocolError, "websocket: a control frame must be final and at most 125 bytes");
    }
    size_t so_far = partial_ && opcode == Opcode::continuation ? partial_->payload.size() : 0;
    if (length > max_message_ || so_far + length > max_message_) {
      throw ProtocolError(kCloseTooBig, "websocket: message over " + std::to_string(max_message_) + " bytes");
    }
    uint8_t key[4] = {0, 0, 0, 0};
    if (masked) {
      if (buffer_.size() < at + 4) return std::nullopt;
      for (size_t i = 0; i < 4; i++) key[i] = byte(at + i);
      at += 4;
    }
    if (buffer_.size() < at + length) return std::nullopt;
    std::string payload = buffer_.substr(at, length);
    buffer_.erase(0, at + length);
    for (size_t i = 0; i < payload.size(); i++) payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);

    if (is_control(opcode)) return Message{opcode, std::move(payload)};
    if (opcode == Opcode::continuation) {
      if (!partial_) throw ProtocolError(kCloseProtocolError, "websocket: continuation without a message to continue");
      partial_->payload += payload;
    } else {
      if (partial_) throw ProtocolError(kCloseProtocolError, "websocket: a new message inside a fragmented one");
      partial_ = Message{opcode, std::move(payload)};
    }
    if (fin) {
      Message m = std::move(*partial_);
      partial_.reset();
      return m;
    }
  }
}

std::string frame(Opcode opcode, std::string_view payload, bool fin, std::optional<uint32_t> mask) {
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0) | static_cast<uint8_t>(opcode));
  uint8_t mask_bit = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    out += static_cast<char>(mask_bit | payload.size());
  } else if (payload.size() <= 0xffff) {
    out += static_cast<char>(mask_bit | 126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xff);
  } else {
    out += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((uint64_t{payload.size()} >> shift) & 0xff);
  }
  if (!mask) return out.append(payload);
  uint8_t key[4] = {static_cast<uint8_t>(*mask >> 24), static_cast<uint8_t>(*mask >> 16),
                    static_cast<uint8_t>(*mask >> 8), static_cast<uint8_t>(*mask)};
  for (uint8_t k : key) out += static_cast<char>(k);
  for (size_t i = 0; i < payload.size(); i++) out += static_cast<char>(payload[i] ^ key[i % 4]);
  return out;
}

std::string close_payload(uint16_t code, std::string_view reason) {
  std::string out;
  out += static_cast<char>(code >> 8);
  out += static_cast<char>(code & 0xff);
  return out.append(reason.substr(0, kMaxControlPayload - 2));
}

std::string base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) throw ProtocolError(kCloseProtocolError, "websocket: bad base64 message");
  std::string out(in.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) throw ProtocolError(kCloseProtocolError, "websocket: bad base64 message");
  size_t padding = in.size() >= 2 && in[in.size() - 2] == '=' ? 2 : !in.empty() && in.back() == '=' ? 1 : 0;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

}  // namespace vpcri::streaming::websocket

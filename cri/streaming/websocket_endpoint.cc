#include "cri/streaming/websocket_endpoint.h"

#include <sys/random.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/error.h"
#include "cri/streaming/http.h"

namespace vpcri::streaming::websocket {
namespace {

using Clock = std::chrono::steady_clock;

uint32_t random_mask() {
  uint32_t mask = 0;
  if (::getrandom(&mask, sizeof mask, 0) != sizeof mask) throw_errno("getrandom");
  return mask;
}

}  // namespace

Endpoint::Endpoint(int fd, Role role, std::string_view already_read, size_t max_message)
    : fd_(fd), role_(role), parser_(role == Role::server, max_message), last_activity_(Clock::now()) {
  parser_.feed(already_read);
}

void Endpoint::send(Opcode opcode, std::string_view payload) {
  if (broken_ || close_sent_) return;
  std::optional<uint32_t> mask;
  if (role_ == Role::client) mask = random_mask();
  if (!http::write_all(fd_, frame(opcode, payload, true, mask))) broken_ = true;
  if (opcode == Opcode::close) close_sent_ = true;
  last_activity_ = Clock::now();
}

bool Endpoint::read_some() {
  char buf[64 * 1024];
  ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return false;
  parser_.feed(std::string_view(buf, static_cast<size_t>(n)));
  last_activity_ = Clock::now();
  return true;
}

std::optional<Message> Endpoint::next() {
  while (!peer_closed_) {
    std::optional<Message> m = parser_.next();
    if (!m) return std::nullopt;
    switch (m->opcode) {
      case Opcode::ping: send(Opcode::pong, m->payload); continue;
      case Opcode::pong: continue;
      case Opcode::close:
        peer_closed_ = true;
        send(Opcode::close, close_payload(kCloseNormal));
        return std::nullopt;
      default: return m;
    }
  }
  return std::nullopt;
}

void Endpoint::close(uint16_t code, std::string_view reason) {
  send(Opcode::close, close_payload(code, reason));
  http::shutdown_and_drain(fd_, std::chrono::seconds(1));
}

void send_channel(Endpoint& endpoint, bool base64, uint8_t channel, std::string_view data) {
  if (base64) {
    endpoint.send(Opcode::text, std::string(1, static_cast<char>('0' + channel)) + base64_encode(data));
  } else {
    endpoint.send(Opcode::binary, std::string(1, static_cast<char>(channel)).append(data));
  }
}

std::optional<std::pair<uint8_t, std::string>> decode_channel(const Message& message, bool base64) {
  if (message.payload.empty()) return std::nullopt;
  uint8_t channel = static_cast<uint8_t>(message.payload[0]);
  std::string data = message.payload.substr(1);
  if (base64) {
    if (channel < '0') throw ProtocolError(kCloseProtocolError, "websocket: bad channel");
    return std::pair{static_cast<uint8_t>(channel - '0'), base64_decode(data)};
  }
  return std::pair{channel, std::move(data)};
}

}  // namespace vpcri::streaming::websocket

#include "cri/streaming/connection.h"

#include <sys/socket.h>

#include <cerrno>

#include "cri/streaming/http.h"

namespace vpcri::streaming {

using Clock = std::chrono::steady_clock;

Connection::Connection(UniqueFd socket, Role role, std::string already_read)
    : socket_(std::move(socket)),
      role_(role),
      next_own_stream_(role == Role::server ? 2 : 1),
      next_ping_(role == Role::server ? 2 : 1),
      last_activity_(Clock::now()) {
  parser_.feed(already_read);
}

bool Connection::read_some() {
  char buf[65536];
  ssize_t n = ::recv(socket_.get(), buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return false;
  parser_.feed(std::string_view(buf, static_cast<size_t>(n)));
  last_activity_ = Clock::now();
  return true;
}

std::optional<Received> Connection::next() {
  for (;;) {
    std::optional<spdy::Frame> f = parser_.next();
    if (!f) return std::nullopt;
    switch (f->type) {
      case spdy::Type::ping:
        // A peer's ping (other parity than ours) is echoed; answers to ours need nothing.
        if ((f->ping_id % 2 == 1) == (role_ == Role::server)) send(spdy::encode_ping(f->ping_id));
        continue;
      case spdy::Type::settings:
      case spdy::Type::window_update: continue;  // no flow control, as spdystream
      case spdy::Type::syn_stream: {
        bool peer_parity = (f->stream_id % 2 == 1) == (role_ == Role::server);
        if (!peer_parity || f->stream_id <= last_peer_stream_) {
          throw spdy::ProtocolError("SYN_STREAM with unexpected stream id " + std::to_string(f->stream_id));
        }
        last_peer_stream_ = f->stream_id;
        Received r{std::move(*f), {}};
        r.headers = codec_in_.decompress(r.frame.data);
        return r;
      }
      case spdy::Type::syn_reply:
      case spdy::Type::headers: {
        Received r{std::move(*f), {}};
        r.headers = codec_in_.decompress(r.frame.data);
        return r;
      }
      default: return Received{std::move(*f), {}};
    }
  }
}

void Connection::send(const std::string& bytes) {
  if (broken_) return;
  if (!http::write_all(socket_.get(), bytes)) {
    broken_ = true;
    return;
  }
  last_activity_ = Clock::now();
}

uint32_t Connection::open_stream(const spdy::Headers& headers, bool fin) {
  uint32_t id = next_own_stream_;
  next_own_stream_ += 2;
  send(spdy::encode_syn_stream(id, codec_out_.compress(headers), fin));
  return id;
}

void Connection::reply(uint32_t stream_id) { send(spdy::encode_syn_reply(stream_id, codec_out_.compress({}), false)); }

void Connection::data(uint32_t stream_id, std::string_view payload, bool fin) {
  constexpr size_t kChunk = 32 * 1024;
  do {
    std::string_view part = payload.substr(0, kChunk);
    payload.remove_prefix(part.size());
    send(spdy::encode_data(stream_id, part, fin && payload.empty()));
  } while (!payload.empty());
}

void Connection::reset(uint32_t stream_id, spdy::RstStatus status) { send(spdy::encode_rst_stream(stream_id, status)); }

void Connection::goaway() { send(spdy::encode_goaway(last_peer_stream_)); }

void Connection::ping() {
  send(spdy::encode_ping(next_ping_));
  next_ping_ += 2;
}

void Connection::close(std::chrono::milliseconds linger) {
  if (closed_) return;
  closed_ = true;
  goaway();
  http::shutdown_and_drain(socket_.get(), linger);
}

}  // namespace vpcri::streaming

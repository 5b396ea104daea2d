// vpcrictl's and the tests' WebSocket client for exec and attach (websocket_session.h is the
// server side): the handshake, masked frames, channel bytes.
#include <poll.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "cri/streaming/client.h"
#include "cri/streaming/http.h"
#include "cri/streaming/websocket.h"

namespace vpcri::streaming {
namespace {

namespace ws = websocket;

uint32_t random_mask() {
  uint32_t mask = 0;
  if (::getrandom(&mask, sizeof mask, 0) != sizeof mask) throw_errno("getrandom");
  return mask;
}

std::string random_key() {
  unsigned char raw[16];
  if (::getrandom(raw, sizeof raw, 0) != sizeof raw) throw_errno("getrandom");
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string key;  // base64 of 16 bytes: 22 characters and "=="
  for (size_t i = 0; i < 15; i += 3) {
    uint32_t v = (uint32_t{raw[i]} << 16) | (uint32_t{raw[i + 1]} << 8) | raw[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) key += kAlphabet[(v >> shift) & 63];
  }
  key += kAlphabet[raw[15] >> 2];
  key += kAlphabet[(raw[15] & 3) << 4];
  return key + "==";
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

ExecOutcome run_websocket_exec_client(const std::string& url, const ExecClientIo& io) {
  std::string path, host_port;
  UniqueFd fd = dial_url(url, path, host_port);
  std::string key = random_key();
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host_port +
                    "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: " + key +
                    "\r\nSec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io\r\n\r\n";
  if (!http::write_all(fd.get(), req)) throw_errno("send the WebSocket upgrade request");
  std::string rest;
  http::Message resp = read_upgrade_response(fd.get(), rest);
  if (resp.value("sec-websocket-accept") != ws::accept_key(key)) {
    throw Error(Errc::failed_precondition, "unable to upgrade connection: wrong Sec-WebSocket-Accept");
  }
  const bool v5 = resp.value("sec-websocket-protocol") == "v5.channel.k8s.io";
  auto send = [&](ws::Opcode op, std::string_view payload) {
    if (!http::write_all(fd.get(), ws::frame(op, payload, true, random_mask()))) {
      throw Error(Errc::unavailable, "the streaming server went away");
    }
  };
  auto send_channel = [&](char channel, std::string_view data) { send(ws::Opcode::binary, std::string(1, channel).append(data)); };
  if (io.tty && io.size) send_channel(4, size_json(*io.size));

  ws::Parser parser(false, 1 << 22);
  parser.feed(rest);
  ExecOutcome outcome;
  int in = io.in;
  for (;;) {
    bool closed = false;
    while (auto m = parser.next()) {
      if (m->opcode == ws::Opcode::ping) send(ws::Opcode::pong, m->payload);
      if (m->opcode == ws::Opcode::close) {
        send(ws::Opcode::close, m->payload.substr(0, 2));
        closed = true;
        break;
      }
      if (m->opcode != ws::Opcode::binary || m->payload.empty()) continue;
      std::string_view data = std::string_view(m->payload).substr(1);
      if (m->payload[0] == 1) write_out(io.out, data);
      if (m->payload[0] == 2) write_out(io.err, data);
      if (m->payload[0] == 3) outcome.status.append(data);
    }
    if (closed) break;
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
        if (v5) send(ws::Opcode::binary, std::string("\xff\x00", 2));  // stdin EOF
        in = -1;
      }
    }
    if (p[2].revents != 0 && io.current_size) {
      uint64_t ignored;
      if (::read(io.resize_fd, &ignored, sizeof ignored) < 0) { /* a signalfd or eventfd; nothing to do */ }
      if (auto s = io.current_size()) send_channel(4, size_json(*s));
    }
    if (p[0].revents != 0) {
      char buf[64 * 1024];
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      parser.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
  }
  outcome.exit_code = exit_code_of_status(outcome.status);
  return outcome;
}

}  // namespace vpcri::streaming

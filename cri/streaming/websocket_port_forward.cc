#include "cri/streaming/websocket_port_forward.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "common/error.h"
#include "cri/streaming/http.h"
#include "cri/streaming/port_forward.h"
#include "cri/streaming/websocket_endpoint.h"
#include "cri/streaming/websocket_tunnel.h"

namespace vpcri::streaming {
namespace {

using Clock = std::chrono::steady_clock;
namespace ws = websocket;

constexpr size_t kMaxPorts = 100;  // channels 0..199: one byte, and '0'+channel still one in base64
constexpr size_t kMaxMessage = 1 << 20;
constexpr size_t kMaxPendingToPod = 1 << 20;  // past this in total, the socket is not read

http::HttpError bad_request(const std::string& why) { return http::HttpError{400, why + "\n"}; }

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      throw bad_request("bad escape in the query");
    }
    out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

}  // namespace

const std::vector<std::string>& websocket_port_forward_protocols() {
  static const std::vector<std::string> protocols = {"v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                                                     kSpdyTunnelProtocol};
  return protocols;
}

std::vector<uint16_t> websocket_port_forward_ports(const std::string& target) {
  std::vector<uint16_t> ports;
  bool present = false;
  size_t q = target.find('?');
  std::string_view query = q == std::string::npos ? std::string_view() : std::string_view(target).substr(q + 1);
  while (!query.empty()) {
    std::string_view item = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), item.size() + 1));
    size_t eq = item.find('=');
    if (percent_decode(item.substr(0, eq)) != "port") continue;
    present = true;
    std::string value = eq == std::string_view::npos ? "" : percent_decode(item.substr(eq + 1));
    if (value.empty()) throw bad_request("query parameter \"port\" cannot be empty");
    for (size_t start = 0; start <= value.size();) {
      size_t comma = std::min(value.find(',', start), value.size());
      std::string one = value.substr(start, comma - start);
      auto port = parse_port(one);
      if (!port) throw bad_request("unable to parse \"" + one + "\" as a port (1 to 65535)");
      ports.push_back(*port);
      start = comma + 1;
    }
  }
  if (!present) throw bad_request("query parameter \"port\" is required");
  if (ports.size() > kMaxPorts) throw bad_request("at most " + std::to_string(kMaxPorts) + " ports");
  return ports;
}

void run_websocket_port_forward(UniqueFd socket, std::string already_read, const Request& request,
                                const std::string& protocol, const std::vector<uint16_t>& ports,
                                const SessionLimits& limits) {
  ws::Endpoint client(socket.get(), ws::Endpoint::Role::server, already_read, kMaxMessage);
  const bool base64 = protocol.find("base64") != std::string::npos;
  auto send = [&](size_t channel, std::string_view data) {
    ws::send_channel(client, base64, static_cast<uint8_t>(channel), data);
  };
  std::vector<PodSocket> pods(ports.size());
  for (size_t i = 0; i < ports.size(); i++) {
    const std::string port_le = {static_cast<char>(ports[i] & 0xff), static_cast<char>(ports[i] >> 8)};
    send(2 * i, port_le);
    send(2 * i + 1, port_le);
  }
  for (size_t i = 0; i < ports.size(); i++) {
    std::string error;
    if (!pods[i].dial(request, ports[i], error)) send(2 * i + 1, error);
  }
  try {
    for (;;) {
      size_t pending = 0;
      bool all_done = true;
      for (const auto& pod : pods) {
        if (!pod.done) pending += pod.to_pod.size();  // a finished port's leftovers hold up no one
        all_done = all_done && pod.done;
      }
      if (all_done) break;
      if (Clock::now() - client.last_activity() > limits.idle_timeout || client.broken()) return;
      std::vector<pollfd> p = {{pending < kMaxPendingToPod ? client.fd() : -1, POLLIN, 0}, {limits.stop_fd, POLLIN, 0}};
      for (const auto& pod : pods) {
        short events = (pod.done ? 0 : POLLIN) | (pod.to_pod.empty() ? 0 : POLLOUT);
        p.push_back({pod.done ? -1 : pod.fd.get(), events, 0});
      }
      if (::poll(p.data(), p.size(), 1000) < 0) {
        if (errno == EINTR) continue;
        throw_errno("poll websocket port forward");
      }
      if (p[1].revents != 0) break;
      if (p[0].revents != 0) {
        if (!client.read_some()) return;  // the client went away: the pod sockets close with `pods`
        while (auto m = client.next()) {
          auto message = ws::decode_channel(*m, base64);
          if (!message || message->first % 2 != 0 || message->first / 2 >= pods.size()) continue;  // as wsstream
          PodSocket& pod = pods[message->first / 2];
          if (pod.done) continue;
          pod.to_pod += message->second;
          pod.flush(false);
        }
        if (client.peer_closed()) break;
      }
      for (size_t i = 0; i < pods.size(); i++) {
        if (pods[i].done || p[i + 2].revents == 0) continue;
        if (p[i + 2].revents & (POLLIN | POLLHUP | POLLERR)) {
          char buf[32 * 1024];
          if (size_t n = pods[i].read(buf, sizeof buf)) send(2 * i, std::string_view(buf, n));
        }
        if (p[i + 2].revents & POLLOUT) pods[i].flush(false);
      }
    }
  } catch (const ws::ProtocolError& e) {
    client.close(e.code, e.what());
    return;
  }
  client.close(ws::kCloseNormal);
}

}  // namespace vpcri::streaming

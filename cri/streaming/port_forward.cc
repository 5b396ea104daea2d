#include "cri/streaming/port_forward.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <map>
#include <vector>

#include "common/error.h"

namespace vpcri::streaming {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxPairs = 1024;               // forwarded connections open at once per session
constexpr size_t kMaxPendingToPod = 1 << 20;     // past this in total, the socket is not read
constexpr std::chrono::milliseconds kHalfCloseWait{1000};  // the other direction, once one ended

// One forwarded TCP connection: its two streams and the pod socket.
struct Pair {
  uint16_t port = 0;
  uint32_t error_stream = 0;
  uint32_t data_stream = 0;
  Clock::time_point created;
  UniqueFd pod;
  std::string to_pod;           // received from the client, not yet written
  bool client_done = false;     // the client half-closed the data stream
  bool pod_write_shut = false;  // ... and that was passed on
  bool pod_done = false;        // the pod closed its side
  Clock::time_point pod_done_at;
};

std::optional<uint16_t> parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  int v = std::stoi(s);
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

class PortForwardSession {
 public:
  PortForwardSession(Connection& conn, const Request& request) : conn_(conn), request_(request) {}

  void run(const SessionLimits& limits) {
    for (;;) {
      if (Clock::now() - conn_.last_activity() > limits.idle_timeout) return;
      expire_incomplete(limits.stream_creation_timeout);
      std::vector<pollfd> p = {{pending_total() < kMaxPendingToPod ? conn_.fd() : -1, POLLIN, 0},
                               {limits.stop_fd, POLLIN, 0}};
      std::vector<std::string> keys = {"", ""};
      for (auto& [key, pair] : pairs_) {
        if (!pair.pod) continue;
        short events = (pair.pod_done ? 0 : POLLIN) | (pair.to_pod.empty() ? 0 : POLLOUT);
        p.push_back({pair.pod.get(), events, 0});
        keys.push_back(key);
      }
      if (::poll(p.data(), p.size(), 1000) < 0) {
        if (errno == EINTR) continue;
        throw_errno("poll port forward session");
      }
      if (p[1].revents != 0) return;
      if (p[0].revents != 0 && !pump_socket()) return;
      for (size_t i = 2; i < p.size(); i++) {
        auto it = pairs_.find(keys[i]);
        if (it == pairs_.end() || p[i].revents == 0) continue;
        if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) from_pod(it->second);
        if (p[i].revents & POLLOUT) to_pod(it->second);
      }
      for (auto it = pairs_.begin(); it != pairs_.end();) {
        it = finished(it->second) ? close_pair(it) : std::next(it);
      }
      if (conn_.broken()) return;
    }
  }

 private:
  size_t pending_total() const {
    size_t n = 0;
    for (const auto& [k, pair] : pairs_) n += pair.to_pod.size();
    return n;
  }

  bool pump_socket() {
    if (!conn_.read_some()) return false;
    while (auto r = conn_.next()) {
      if (!on_frame(*r)) return false;
    }
    return true;
  }

  bool on_frame(Received& r) {
    spdy::Frame& f = r.frame;
    switch (f.type) {
      case spdy::Type::syn_stream: on_new_stream(f.stream_id, r.headers); return true;
      case spdy::Type::data: {
        Pair* pair = by_data_stream(f.stream_id);
        if (!pair || pair->client_done) return true;
        if (pair->pod) {
          pair->to_pod += f.data;
          if (f.fin()) pair->client_done = true;
          to_pod(*pair);
        }
        return true;
      }
      case spdy::Type::rst_stream: {
        for (auto it = pairs_.begin(); it != pairs_.end(); ++it) {
          if (it->second.data_stream == f.stream_id) {
            close_pair(it, false);
            break;
          }
        }
        return true;
      }
      case spdy::Type::goaway: return false;
      default: return true;
    }
  }

  void on_new_stream(uint32_t id, const spdy::Headers& h) {
    std::string type = spdy::header_value(h, "streamtype");
    auto port = parse_port(spdy::header_value(h, "port"));
    if ((type != "error" && type != "data") || !port || pairs_.size() >= kMaxPairs) {
      conn_.reset(id, spdy::RstStatus::refused_stream);
      return;
    }
    std::string key = spdy::header_value(h, "requestid");
    if (key.empty()) key = "id:" + std::to_string(type == "error" ? id : id - 2);  // as the kubelet library guesses
    conn_.reply(id);
    auto [it, fresh] = pairs_.try_emplace(key);
    Pair& pair = it->second;
    if (fresh) {
      pair.port = *port;
      pair.created = Clock::now();
    }
    uint32_t& slot = type == "error" ? pair.error_stream : pair.data_stream;
    if (slot != 0) {
      if (pair.error_stream != 0) conn_.data(pair.error_stream, "duplicate " + type + " stream for request " + key);
      conn_.reset(id, spdy::RstStatus::protocol_error);
      return;
    }
    slot = id;
    if (pair.error_stream != 0 && pair.data_stream != 0) dial(pair);
  }

  void dial(Pair& pair) {
    try {
      pair.pod = request_.dial(pair.port);
      ::fcntl(pair.pod.get(), F_SETFL, ::fcntl(pair.pod.get(), F_GETFL) | O_NONBLOCK);
    } catch (const std::exception& e) {
      conn_.data(pair.error_stream,
                 "error forwarding port " + std::to_string(pair.port) + " to pod " + request_.target + ", uid : " + e.what(),
                 true);
      conn_.data(pair.data_stream, {}, true);
      pair.pod_done = pair.client_done = true;
    }
  }

  void from_pod(Pair& pair) {
    char buf[32 * 1024];
    ssize_t n = ::recv(pair.pod.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n > 0) {
      conn_.data(pair.data_stream, std::string_view(buf, static_cast<size_t>(n)));
      return;
    }
    // EOF, or ECONNRESET/EPIPE: either way the pod side is over; no error text (it would end the
    // client's whole session).
    pair.pod_done = true;
    pair.pod_done_at = Clock::now();
  }

  void to_pod(Pair& pair) {
    while (!pair.to_pod.empty()) {
      ssize_t n = ::send(pair.pod.get(), pair.to_pod.data(), pair.to_pod.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) {
        pair.to_pod.clear();
        pair.pod_done = true;
        pair.pod_done_at = Clock::now();
        return;
      }
      pair.to_pod.erase(0, static_cast<size_t>(n));
    }
    if (pair.client_done && !pair.pod_write_shut) {
      ::shutdown(pair.pod.get(), SHUT_WR);
      pair.pod_write_shut = true;
    }
  }

  bool finished(const Pair& pair) const {
    if (!pair.pod) return pair.pod_done && pair.client_done;  // a failed dial
    if (!pair.pod_done) return false;
    return (pair.client_done && pair.to_pod.empty()) || Clock::now() - pair.pod_done_at > kHalfCloseWait;
  }

  // Ends a pair: FIN on both streams (unless the client reset them) and the pod socket closed.
  std::map<std::string, Pair>::iterator close_pair(std::map<std::string, Pair>::iterator it, bool fin = true) {
    Pair& pair = it->second;
    if (fin && pair.data_stream != 0 && pair.pod) conn_.data(pair.data_stream, {}, true);
    if (fin && pair.error_stream != 0 && pair.pod) conn_.data(pair.error_stream, {}, true);
    return pairs_.erase(it);
  }

  void expire_incomplete(std::chrono::milliseconds timeout) {
    for (auto it = pairs_.begin(); it != pairs_.end();) {
      Pair& pair = it->second;
      if ((pair.error_stream == 0 || pair.data_stream == 0) && Clock::now() - pair.created > timeout) {
        if (pair.error_stream != 0) conn_.data(pair.error_stream, "timed out waiting for streams", true);
        if (pair.data_stream != 0) conn_.reset(pair.data_stream, spdy::RstStatus::cancel);
        it = pairs_.erase(it);
      } else {
        ++it;
      }
    }
  }

  Pair* by_data_stream(uint32_t id) {
    for (auto& [k, pair] : pairs_) {
      if (pair.data_stream == id) return &pair;
    }
    return nullptr;
  }

  Connection& conn_;
  const Request& request_;
  std::map<std::string, Pair> pairs_;  // by requestid
};

}  // namespace

void run_port_forward(Connection& conn, const Request& request, const SessionLimits& limits) {
  PortForwardSession(conn, request).run(limits);
}

}  // namespace vpcri::streaming

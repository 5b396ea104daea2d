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
  PodSocket pod;
  bool client_done = false;  // the client half-closed the data stream
  bool streams_ended = false;  // our FIN went out on both streams
};

}  // namespace

std::optional<uint16_t> parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  int v = std::stoi(s);
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

bool PodSocket::dial(const Request& request, uint16_t port, std::string& error) {
  try {
    fd = request.dial(port);
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
    return true;
  } catch (const std::exception& e) {
    error = "error forwarding port " + std::to_string(port) + " to pod " + request.target + ", uid : " + e.what();
    done = true;
    return false;
  }
}

size_t PodSocket::read(char* buf, size_t size) {
  ssize_t n = ::recv(fd.get(), buf, size, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (n > 0) return static_cast<size_t>(n);
  // EOF, or ECONNRESET/EPIPE: either way the pod side is over.
  done = true;
  done_at = Clock::now();
  return 0;
}

void PodSocket::flush(bool client_done) {
  while (!to_pod.empty()) {
    ssize_t n = ::send(fd.get(), to_pod.data(), to_pod.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      to_pod.clear();
      done = true;
      done_at = Clock::now();
      return;
    }
    to_pod.erase(0, static_cast<size_t>(n));
  }
  if (client_done && !write_shut) {
    ::shutdown(fd.get(), SHUT_WR);
    write_shut = true;
  }
}

namespace {

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
        if (!pair.pod.fd) continue;
        short events = (pair.pod.done ? 0 : POLLIN) | (pair.pod.to_pod.empty() ? 0 : POLLOUT);
        p.push_back({pair.pod.fd.get(), events, 0});
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
        if (p[i].revents & POLLOUT) it->second.pod.flush(it->second.client_done);
      }
      for (auto it = pairs_.begin(); it != pairs_.end();) {
        // The pod's end reaches the client at once (as kubelet closes both streams when the
        // runtime's copy ends), not when the pair is dropped: a client reading to EOF without
        // half-closing first (most HTTP clients) would otherwise wait out kHalfCloseWait.
        if (it->second.pod.fd && it->second.pod.done) end_streams(it->second);
        it = finished(it->second) ? close_pair(it) : std::next(it);
      }
      if (conn_.broken()) return;
    }
  }

 private:
  size_t pending_total() const {
    size_t n = 0;
    for (const auto& [k, pair] : pairs_) n += pair.pod.to_pod.size();
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
        if (pair->pod.fd) {
          pair->pod.to_pod += f.data;
          if (f.fin()) pair->client_done = true;
          pair->pod.flush(pair->client_done);
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
    std::string error;
    if (pair.pod.dial(request_, pair.port, error)) return;
    conn_.data(pair.error_stream, error, true);
    conn_.data(pair.data_stream, {}, true);
    pair.client_done = true;
  }

  void from_pod(Pair& pair) {
    char buf[32 * 1024];
    if (size_t n = pair.pod.read(buf, sizeof buf)) conn_.data(pair.data_stream, std::string_view(buf, n));
  }

  bool finished(const Pair& pair) const {
    if (!pair.pod.fd) return pair.pod.done && pair.client_done;  // a failed dial
    if (!pair.pod.done) return false;
    return (pair.client_done && pair.pod.to_pod.empty()) || Clock::now() - pair.pod.done_at > kHalfCloseWait;
  }

  // FIN on both streams of a dialled pair, once.
  void end_streams(Pair& pair) {
    if (pair.streams_ended) return;
    if (pair.data_stream != 0) conn_.data(pair.data_stream, {}, true);
    if (pair.error_stream != 0) conn_.data(pair.error_stream, {}, true);
    pair.streams_ended = true;
  }

  // Ends a pair: FIN on both streams (unless the client reset them) and the pod socket closed.
  std::map<std::string, Pair>::iterator close_pair(std::map<std::string, Pair>::iterator it, bool fin = true) {
    Pair& pair = it->second;
    if (fin && pair.pod.fd) end_streams(pair);
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

// The HTTP server behind the URLs of Exec, Attach and PortForward: routes /exec/TOKEN,
// /attach/TOKEN and /portforward/TOKEN, negotiates the protocol, upgrades to SPDY/3.1 and runs
// the session the token authorised.
//
// Threading: one thread polls the listening socket (and a stop eventfd) and accepts; each
// accepted connection gets a thread of its own, up to `max_sessions` at once (more are answered
// 503 at once). A session is one poll loop over its socket and its process or pod sockets, so
// it needs no locks, and a blocking step (starting a process, dialing a pod) only holds up its
// own session. Sessions are few and long-lived (an interactive shell, a port forward), so a
// thread each costs little and keeps every session's code straight-line; the cap bounds threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/fd.h"
#include "cri/streaming/session.h"
#include "cri/streaming/tls.h"
#include "cri/streaming/token_cache.h"

namespace vpcri::streaming {

struct ServerConfig {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal
  uint16_t port = 0;                  // 0: a free port
  size_t max_sessions = 64;
  std::chrono::milliseconds idle_timeout{std::chrono::hours(4)};
  std::chrono::milliseconds stream_creation_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds head_timeout{std::chrono::seconds(10)};  // for the HTTP request head (and a TLS handshake)
  // Both set: TLS with this PEM certificate chain and key, https:// URLs; both empty: plain HTTP.
  std::string tls_cert_file, tls_key_file;
};

class Server {
 public:
  // Listens at once (throws if it cannot) and serves until destroyed.
  Server(ServerConfig config, TokenCache& tokens);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // "http://127.0.0.1:PORT/exec/TOKEN" ("https://" with TLS)
  std::string url(Kind kind, const std::string& token) const;
  const std::string& base_url() const { return base_; }  // "http://127.0.0.1:PORT/"
  uint16_t port() const { return port_; }
  size_t active_sessions() const { return active_; }

 private:
  void accept_loop();
  void serve(UniqueFd client);

  ServerConfig config_;
  TokenCache& tokens_;
  std::unique_ptr<tls::ServerContext> tls_;  // null: plain HTTP
  UniqueFd listener_;
  UniqueFd stop_;  // eventfd: written once at destruction
  uint16_t port_ = 0;
  std::string base_;
  std::atomic<size_t> active_{0};
  std::mutex mu_;
  std::condition_variable idle_;  // active_ reached 0
  std::thread acceptor_;
};

}  // namespace vpcri::streaming

// Optional TLS for the streaming server and client (OpenSSL). A TLS connection is handed to the
// plain session code as one end of a unix socket pair while a relay (the connection's own
// thread) moves bytes between the other end and the TLS stream: the SPDY and WebSocket sessions
// keep reading and polling an ordinary fd, and nothing in them knows about TLS.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/fd.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace vpcri::streaming::tls {

// A server's certificate chain and key, loaded and checked to match at once; throws
// vpcri::Error(invalid_argument) naming the file and OpenSSL's reason.
class ServerContext {
 public:
  ServerContext(const std::string& cert_file, const std::string& key_file);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // Handshakes on `tcp` (within `handshake_timeout`), then runs `serve` on a plain fd in a thread
  // of its own while this thread relays, until both are done. A failed handshake (a plain-HTTP
  // client, a bad certificate on the client's side) is logged and the connection closed.
  void serve(UniqueFd tcp, std::chrono::milliseconds handshake_timeout, const std::function<void(UniqueFd)>& serve);

 private:
  SSL_CTX* ctx_;
};

// How the client checks servers of https:// URLs: against `ca_file` (PEM), else the system's CAs;
// `insecure`: not at all.
struct ClientOptions {
  std::string ca_file;
  bool insecure = false;
};
// Process-wide (vpcrictl's flags, a test): what `connect` uses.
void set_client_options(ClientOptions options);

// Handshakes as a client on the connected `tcp` to `host` (checked against the certificate: an
// IP literal against its IP SANs, else its DNS names) and returns the plain end of a socket pair
// a detached relay thread serves until either side closes. Throws vpcri::Error(unavailable)
// naming OpenSSL's reason.
UniqueFd connect(UniqueFd tcp, const std::string& host);

// Waits, up to `limit`, until every relay `connect` started has ended (its session end closed)
// and freed its TLS state. A short-lived client (vpcrictl) calls it before it exits, so that no
// relay is cut off half-way through freeing OpenSSL's objects (which LeakSanitizer reports).
void wait_for_client_relays(std::chrono::milliseconds limit);

}  // namespace vpcri::streaming::tls

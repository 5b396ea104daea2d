// The transport under http::Client: a non-blocking TCP connection, optionally TLS (OpenSSL),
// whose every wait is bounded by the request's deadlines. Failures throw TransportError.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/fd.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace vpcri::http::detail {

struct TransportError : std::runtime_error {
  TransportError(const std::string& what, int error_number = 0) : std::runtime_error(what), os_errno(error_number) {}
  int os_errno;
};

using Clock = std::chrono::steady_clock;

// How long one wait may last: until the request's end, and no longer than `stall` without a byte
// moving (0: no such limit).
struct Deadline {
  Clock::time_point end = Clock::time_point::max();
  std::chrono::milliseconds total{0};  // what `end` was made from, for messages
  std::chrono::milliseconds stall{0};
};

// Client TLS settings shared by a client's connections: the CAs servers are checked against.
class TlsContext {
 public:
  explicit TlsContext(const std::string& ca_file);  // empty: the system's CAs; throws TransportError
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  SSL_CTX* ctx_;
};

class Connection {
 public:
  // Resolves `host` and connects to its addresses in turn, each within `connect_timeout`.
  static std::unique_ptr<Connection> open(const std::string& host, const std::string& port,
                                          std::chrono::milliseconds connect_timeout, const Deadline& deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // TLS from here on: handshakes, checking the certificate against `host` (an IP literal against
  // the certificate's IP addresses, a name against its DNS names).
  void start_tls(const TlsContext& tls, const std::string& host, std::chrono::milliseconds timeout,
                 const Deadline& deadline);

  void write_all(std::string_view bytes, const Deadline& deadline);
  // Some bytes into `buffer`; 0 when the peer has closed.
  size_t read_some(char* buffer, size_t size, const Deadline& deadline);

  // Whether an idle connection can carry another request: nothing to read (an idle server only
  // ever sends its close).
  bool idle_and_open() const;

 private:
  explicit Connection(UniqueFd fd) : fd_(std::move(fd)) {}
  // Waits for `events` on the socket within the deadline; throws on timeout.
  void wait(short events, const Deadline& deadline) const;

  UniqueFd fd_;
  SSL* ssl_ = nullptr;
};

}  // namespace vpcri::http::detail

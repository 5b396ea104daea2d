#include "cri/streaming/tls.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "common/tls_support.h"

namespace vpcri::streaming::tls {
namespace {

using tls_support::SigpipeBlocked;
using tls_support::ssl_errors;

using Clock = std::chrono::steady_clock;

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;
struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

void set_io_timeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>(t.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// The pair of a unix socket: [0] for the session, [1] for the relay.
std::pair<UniqueFd, UniqueFd> socket_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair for a TLS connection");
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

// Moves bytes between the TLS stream on `tcp` and `plain` until both directions ended (each end's
// EOF passed on as close_notify + a TCP half-close, or a half-close of `plain`), an error, or
// `linger` after our side ended without the peer closing. Non-blocking both ways, so a peer that
// does not read never stops the other direction.
// The client relays `connect` started that have not ended yet (wait_for_client_relays).
struct ClientRelays {
  std::mutex mu;
  std::condition_variable ended;
  int running = 0;
};
ClientRelays g_client_relays;

void relay(SSL* ssl, int tcp, UniqueFd plain, std::chrono::milliseconds linger) {
  constexpr size_t kBufferCap = 256 * 1024;
  set_nonblocking(tcp);
  set_nonblocking(plain.get());
  std::string to_tls, to_plain;
  bool plain_eof = false, tls_eof = false, tls_shut = false, plain_shut = false;
  Clock::time_point shut_at{};
  char buf[16384];
  for (;;) {
    bool tls_wants_write = false;
    for (bool progress = true; progress;) {
      progress = false;
      ERR_clear_error();
      if (!tls_eof && to_plain.size() < kBufferCap) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n > 0) {
          to_plain.append(buf, static_cast<size_t>(n));
          progress = true;
        } else {
          int e = SSL_get_error(ssl, n);
          if (e == SSL_ERROR_WANT_WRITE) tls_wants_write = true;
          if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) {
            tls_eof = progress = true;  // close_notify, or a bare TCP EOF
          } else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            return;  // a broken stream or a reset: closing `plain` tells the session
          }
        }
      }
      if (!to_tls.empty() && !tls_shut) {
        int n = SSL_write(ssl, to_tls.data(), static_cast<int>(std::min<size_t>(to_tls.size(), sizeof buf)));
        if (n > 0) {
          to_tls.erase(0, static_cast<size_t>(n));
          progress = true;
        } else {
          int e = SSL_get_error(ssl, n);
          if (e == SSL_ERROR_WANT_WRITE) tls_wants_write = true;
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return;
        }
      }
      if (!plain_eof && to_tls.size() < kBufferCap) {
        ssize_t n = ::recv(plain.get(), buf, sizeof buf, 0);
        if (n > 0) to_tls.append(buf, static_cast<size_t>(n));
        if (n == 0) plain_eof = true;
        if (n < 0 && errno != EAGAIN && errno != EINTR) return;
        progress = progress || n >= 0;
      }
      if (!to_plain.empty()) {
        ssize_t n = ::send(plain.get(), to_plain.data(), to_plain.size(), MSG_NOSIGNAL);
        if (n > 0) {
          to_plain.erase(0, static_cast<size_t>(n));
          progress = true;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          return;
        }
      }
    }
    if (plain_eof && to_tls.empty() && !tls_shut) {
      SSL_shutdown(ssl);  // close_notify; the peer's own is not waited for here
      ::shutdown(tcp, SHUT_WR);
      tls_shut = true;
      shut_at = Clock::now();
    }
    if (tls_eof && to_plain.empty() && !plain_shut) {
      ::shutdown(plain.get(), SHUT_WR);
      plain_shut = true;
    }
    if (tls_shut && plain_shut) return;
    int timeout = -1;
    if (tls_shut) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(shut_at + linger - Clock::now()).count();
      if (left <= 0) return;
      timeout = static_cast<int>(left);
    }
    short tcp_events = static_cast<short>((!tls_eof && to_plain.size() < kBufferCap ? POLLIN : 0) |
                                          (tls_wants_write ? POLLOUT : 0));
    short plain_events = static_cast<short>((!plain_eof && to_tls.size() < kBufferCap ? POLLIN : 0) |
                                            (to_plain.empty() ? 0 : POLLOUT));
    pollfd p[2] = {{tcp_events ? tcp : -1, tcp_events, 0}, {plain_events ? plain.get() : -1, plain_events, 0}};
    if (::poll(p, 2, timeout) < 0 && errno != EINTR) return;
  }
}

std::mutex client_mu;
ClientOptions client_options;

}  // namespace

ServerContext::ServerContext(const std::string& cert_file, const std::string& key_file)
    : ctx_(SSL_CTX_new(TLS_server_method())) {
  if (!ctx_) throw Error(Errc::internal, "cannot create a TLS context: " + ssl_errors());
  SslCtxPtr owner(ctx_);
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);  // a TCP EOF without close_notify is an EOF
  SSL_CTX_clear_mode(ctx_, SSL_MODE_AUTO_RETRY);
  // relay() retries a write that wanted the socket from its buffer, which may have grown (moved) since.
  SSL_CTX_set_mode(ctx_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str()) != 1) {
    throw Error(Errc::invalid_argument, "streaming.tls_cert_file " + cert_file + ": " + ssl_errors(errno));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // (a key of another certificate fails here already: "key values mismatch")
    throw Error(Errc::invalid_argument, "streaming.tls_key_file " + key_file + " (for the certificate in " + cert_file +
                                            "): " + ssl_errors(errno));
  }
  if (SSL_CTX_check_private_key(ctx_) != 1) {
    throw Error(Errc::invalid_argument, "streaming.tls_key_file " + key_file + " does not match the certificate in " +
                                            cert_file + ": " + ssl_errors());
  }
  owner.release();
}

ServerContext::~ServerContext() { SSL_CTX_free(ctx_); }

void ServerContext::serve(UniqueFd tcp, std::chrono::milliseconds handshake_timeout,
                          const std::function<void(UniqueFd)>& serve) {
  SigpipeBlocked no_sigpipe;
  SslPtr ssl(SSL_new(ctx_));
  if (!ssl || SSL_set_fd(ssl.get(), tcp.get()) != 1) {
    log::error("streaming server: cannot set up TLS for a connection", {{"error", ssl_errors()}});
    return;
  }
  set_io_timeouts(tcp.get(), handshake_timeout);
  ERR_clear_error();
  if (SSL_accept(ssl.get()) != 1) {
    // A plain-HTTP client, a client that does not trust us, a port scanner: only this connection.
    log::warn("streaming server: TLS handshake failed", {{"error", ssl_errors(errno)}});
    return;
  }
  // Beyond the handshake, poll decides; the timeouts only bound a record that never completes.
  set_io_timeouts(tcp.get(), std::chrono::minutes(1));
  int one = 1;
  ::setsockopt(tcp.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // the session's own is on a unix socket
  try {
    auto [session_end, relay_end] = socket_pair();
    std::thread session([&serve, fd = std::move(session_end)]() mutable { serve(std::move(fd)); });
    relay(ssl.get(), tcp.get(), std::move(relay_end), std::chrono::seconds(2));
    session.join();  // its end closed (that ended the relay) or the relay's close ends it
  } catch (const std::exception& e) {
    log::warn("streaming server: TLS session failed", {{"error", e.what()}});
  }
}

void set_client_options(ClientOptions options) {
  std::lock_guard lock(client_mu);
  client_options = std::move(options);
}

UniqueFd connect(UniqueFd tcp, const std::string& host) {
  ClientOptions options;
  {
    std::lock_guard lock(client_mu);
    options = client_options;
  }
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) throw Error(Errc::internal, "cannot create a TLS context: " + ssl_errors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_clear_mode(ctx.get(), SSL_MODE_AUTO_RETRY);
  // relay() retries a write that wanted the socket from its buffer, which may have grown (moved) since.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (options.insecure) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    int loaded = options.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                                         : SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr);
    if (loaded != 1) throw Error(Errc::invalid_argument, "CA file " + options.ca_file + ": " + ssl_errors(errno));
  }
  SslPtr ssl(SSL_new(ctx.get()));  // holds its own reference to the context
  if (!ssl || SSL_set_fd(ssl.get(), tcp.get()) != 1) throw Error(Errc::internal, "TLS setup: " + ssl_errors());
  tls_support::expect_server(ssl.get(), host);
  {
    SigpipeBlocked no_sigpipe;
    set_io_timeouts(tcp.get(), std::chrono::seconds(30));
    ERR_clear_error();
    if (SSL_connect(ssl.get()) != 1) {
      int saved = errno;
      throw Error(Errc::unavailable, "TLS handshake with " + host + ": " + tls_support::handshake_failure(ssl.get(), saved));
    }
  }
  set_io_timeouts(tcp.get(), std::chrono::minutes(1));
  auto [session_end, relay_end] = socket_pair();
  {
    std::lock_guard lock(g_client_relays.mu);
    g_client_relays.running++;
  }
  std::thread([ssl = std::move(ssl), tcp = std::move(tcp), fd = std::move(relay_end)]() mutable {
    {
      SigpipeBlocked no_sigpipe;
      relay(ssl.get(), tcp.get(), std::move(fd), std::chrono::seconds(2));
    }
    // Everything freed before the count drops: a client that exits right after must not find
    // this thread in the middle of it.
    ssl.reset();
    tcp.reset();
    OPENSSL_thread_stop();
    std::lock_guard lock(g_client_relays.mu);
    g_client_relays.running--;
    g_client_relays.ended.notify_all();
  }).detach();
  return std::move(session_end);
}

void wait_for_client_relays(std::chrono::milliseconds limit) {
  std::unique_lock lock(g_client_relays.mu);
  g_client_relays.ended.wait_for(lock, limit, [] { return g_client_relays.running == 0; });
}

}  // namespace vpcri::streaming::tls

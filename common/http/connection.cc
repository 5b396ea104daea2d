#include "common/http/connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/tls_support.h"

namespace vpcri::http::detail {
namespace {

using tls_support::ssl_errors;

std::string millis(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

// Milliseconds poll may wait: up to the request's end and the stall limit, whichever is first.
// Throws when the request's end has passed.
int poll_budget(const Deadline& deadline, std::chrono::milliseconds extra_limit = std::chrono::milliseconds(0)) {
  auto now = Clock::now();
  if (now >= deadline.end) throw TransportError("request timed out after " + millis(deadline.total), ETIMEDOUT);
  auto budget = std::chrono::milliseconds::max();
  if (deadline.end != Clock::time_point::max()) {
    budget = std::chrono::ceil<std::chrono::milliseconds>(deadline.end - now);
  }
  if (deadline.stall.count() > 0) budget = std::min(budget, deadline.stall);
  if (extra_limit.count() > 0) budget = std::min(budget, extra_limit);
  return budget == std::chrono::milliseconds::max() ? -1 : static_cast<int>(std::min<int64_t>(budget.count(), INT32_MAX));
}

// One poll within the deadline; false on timeout.
bool poll_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int n = ::poll(&p, 1, timeout_ms);
    if (n >= 0) return n > 0;
    if (errno != EINTR) throw TransportError(std::string("poll: ") + std::strerror(errno), errno);
  }
}

// Connects one address within `timeout_ms`; returns the errno it failed with (0: connected).
int connect_one(int fd, const addrinfo& address, int timeout_ms) {
  if (::connect(fd, address.ai_addr, address.ai_addrlen) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  if (!poll_for(fd, POLLOUT, timeout_ms)) return ETIMEDOUT;
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

}  // namespace

TlsContext::TlsContext(const std::string& ca_file) : ctx_(SSL_CTX_new(TLS_client_method())) {
  if (ctx_ == nullptr) throw TransportError("cannot create a TLS context: " + ssl_errors());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  // A TCP EOF without close_notify ends an EOF-delimited body like a close_notify would; a body
  // with a length or chunks that is cut short is still an error (the parser notices).
  SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx_)
                               : SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    std::string why = ssl_errors(errno);
    SSL_CTX_free(ctx_);
    throw TransportError("cannot load the CA certificates" + (ca_file.empty() ? std::string() : " of " + ca_file) + ": " + why);
  }
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<Connection> Connection::open(const std::string& host, const std::string& port,
                                             std::chrono::milliseconds connect_timeout, const Deadline& deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;  // not AI_ADDRCONFIG: a node namespace with only loopback has "no address"
  addrinfo* found = nullptr;
  // getaddrinfo has no timeout of its own: resolv.conf's bounds it.
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    int saved = rc == EAI_SYSTEM ? errno : 0;
    throw TransportError("cannot resolve " + host + ": " + (rc == EAI_SYSTEM ? std::strerror(saved) : ::gai_strerror(rc)), saved);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  int last_error = 0;
  for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd) {
      last_error = errno;
      continue;
    }
    last_error = connect_one(fd.get(), *a, poll_budget(deadline, connect_timeout));
    if (last_error != 0) continue;
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // a request is one write; never wait for an ACK
    ::setsockopt(fd.get(), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    return std::unique_ptr<Connection>(new Connection(std::move(fd)));
  }
  if (last_error == ETIMEDOUT) {
    throw TransportError("cannot connect to " + host + ":" + port + " within " + millis(connect_timeout), ETIMEDOUT);
  }
  throw TransportError(std::strerror(last_error), last_error);
}

Connection::~Connection() {
  if (ssl_ != nullptr) {
    tls_support::SigpipeBlocked no_sigpipe;
    SSL_shutdown(ssl_);  // one non-blocking try at close_notify; the socket closes anyway
    SSL_free(ssl_);
  }
}

void Connection::wait(short events, const Deadline& deadline) const {
  int budget = poll_budget(deadline);
  if (poll_for(fd_.get(), events, budget)) return;
  poll_budget(deadline);  // throws when it was the request's end
  throw TransportError("no data received for " + millis(deadline.stall), ETIMEDOUT);
}

void Connection::start_tls(const TlsContext& tls, const std::string& host, std::chrono::milliseconds timeout,
                           const Deadline& deadline) {
  ssl_ = SSL_new(tls.get());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_.get()) != 1) throw TransportError("TLS setup: " + ssl_errors());
  tls_support::expect_server(ssl_, host);
  Deadline handshake = deadline;
  if (handshake.end - Clock::now() > timeout) {
    handshake.end = Clock::now() + timeout;
    handshake.total = timeout;
  }
  handshake.stall = std::chrono::milliseconds(0);
  tls_support::SigpipeBlocked no_sigpipe;
  for (;;) {
    ERR_clear_error();
    int rc = SSL_connect(ssl_);
    if (rc == 1) return;
    int error = SSL_get_error(ssl_, rc);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      try {
        wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, handshake);
      } catch (const TransportError&) {
        throw TransportError("TLS handshake with " + host + " timed out after " + millis(handshake.total), ETIMEDOUT);
      }
      continue;
    }
    int saved = error == SSL_ERROR_SYSCALL ? errno : 0;
    throw TransportError("TLS handshake with " + host + ": " + tls_support::handshake_failure(ssl_, saved), saved);
  }
}

void Connection::write_all(std::string_view bytes, const Deadline& deadline) {
  while (!bytes.empty()) {
    poll_budget(deadline);  // a peer that is always ready must not outlast the request's end
    if (ssl_ != nullptr) {
      tls_support::SigpipeBlocked no_sigpipe;
      ERR_clear_error();
      size_t written = 0;
      if (SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written) == 1) {
        bytes.remove_prefix(written);
        continue;
      }
      int error = SSL_get_error(ssl_, 0);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        continue;
      }
      int saved = errno;
      throw TransportError("TLS write: " + ssl_errors(error == SSL_ERROR_SYSCALL ? saved : 0), saved);
    }
    ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait(POLLOUT, deadline);
    } else if (errno != EINTR) {
      throw TransportError(std::strerror(errno), errno);
    }
  }
}

size_t Connection::read_some(char* buffer, size_t size, const Deadline& deadline) {
  for (;;) {
    poll_budget(deadline);  // a peer that always has data must not outlast the request's end
    if (ssl_ != nullptr) {
      tls_support::SigpipeBlocked no_sigpipe;  // a read may write (a key update's answer)
      ERR_clear_error();
      size_t got = 0;
      if (SSL_read_ex(ssl_, buffer, size, &got) == 1) return got;
      int error = SSL_get_error(ssl_, 0);
      if (error == SSL_ERROR_ZERO_RETURN) return 0;
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        continue;
      }
      int saved = errno;
      throw TransportError("TLS read: " + ssl_errors(error == SSL_ERROR_SYSCALL ? saved : 0), saved);
    }
    ssize_t n = ::recv(fd_.get(), buffer, size, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait(POLLIN, deadline);
    } else if (errno != EINTR) {
      throw TransportError(std::strerror(errno), errno);
    }
  }
}

bool Connection::idle_and_open() const {
  pollfd p{fd_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

}  // namespace vpcri::http::detail

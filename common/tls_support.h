// Small pieces both TLS users (the streaming server and client, the HTTP client) need around
// OpenSSL. Header-only: only code that links OpenSSL includes it.
#pragma once

#include <openssl/err.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace vpcri::tls_support {

// OpenSSL's queued errors, oldest first; else what `saved_errno` says; else a closed peer.
inline std::string ssl_errors(int saved_errno = 0) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  if (out.empty()) out = saved_errno != 0 ? std::strerror(saved_errno) : "the peer closed the connection";
  return out;
}

// A write to a peer that is gone raises SIGPIPE in the writing thread (OpenSSL writes without
// MSG_NOSIGNAL); blocked, the write fails with EPIPE instead. Restores the mask, dropping a
// SIGPIPE that became pending meanwhile, when it goes.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigset_t pipe;
    ::sigemptyset(&pipe);
    ::sigaddset(&pipe, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe, &saved_);
  }
  ~SigpipeBlocked() {
    sigset_t pipe;
    ::sigemptyset(&pipe);
    ::sigaddset(&pipe, SIGPIPE);
    timespec zero{0, 0};
    while (::sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
    }
    ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t saved_{};
};

}  // namespace vpcri::tls_support

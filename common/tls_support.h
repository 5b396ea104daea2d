// Small pieces both TLS users (the streaming server and client, the HTTP client) need around
// OpenSSL. Header-only: only code that links OpenSSL includes it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
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

// Makes the handshake on `ssl` check the server's certificate against `host`: an IP literal
// against the certificate's IP addresses, a name against its DNS names (and sent as SNI).
inline void expect_server(SSL* ssl, const std::string& host) {
  in6_addr ip{};
  if (::inet_pton(AF_INET, host.c_str(), &ip) == 1 || ::inet_pton(AF_INET6, host.c_str(), &ip) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  } else {
    SSL_set1_host(ssl, host.c_str());
    // SNI (SSL_set_tlsext_host_name is a macro with a C cast).
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
  }
}

// Why a client handshake on `ssl` failed: the certificate check's verdict when that failed, else
// OpenSSL's errors (or `saved_errno`'s text).
inline std::string handshake_failure(SSL* ssl, int saved_errno) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  return ssl_errors(saved_errno);
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

// Test support for common/http: scriptable HTTP/1.1 peers on loopback (127.0.0.1 or ::1) inside
// the test process, so a test controls every byte an answer is made of (chunk boundaries, 1xx
// answers, silence, a close in the middle of a body) and can assert exactly what the client sent
// and over how many TCP connections. Optionally TLS (OpenSSL) with a certificate made at test time
// by the openssl CLI, and a CONNECT / absolute-form forward proxy.
//
// Every connection runs the test's handler on a thread of its own. The destructor stops the
// listener, shuts down every open connection (which wakes any handler blocked in a read, a write
// or a wait) and joins every thread: nothing outlives the server object, whatever the test did.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/http/client.h"

namespace vpcri::http::test {

using namespace std::chrono_literals;

struct ReceivedRequest {
  std::string method;
  std::string target;   // as on the request line: "/path?q" or "http://host:port/path" or "host:port"
  std::string version;  // "HTTP/1.1"
  std::string head;     // the request line and header lines, as received (up to the blank line)
  std::vector<std::pair<std::string, std::string>> raw_headers;  // as received, in order
  std::multimap<std::string, std::string> headers;                // names lower-cased, values trimmed
  std::string body;                                               // de-chunked when chunked
  int connection = 0;                                             // 1-based accept number
  std::string header(const std::string& lower_name) const;        // the first value, or ""
  size_t count(const std::string& lower_name) const { return headers.count(lower_name); }
};

class LoopbackServer;

// One accepted connection, as the handler sees it.
class Connection {
 public:
  // One request (head and body). nullopt when the peer closed, on a read timeout, on a parse error
  // or when the server stops. The request is also recorded in the server's requests().
  std::optional<ReceivedRequest> read_request(std::chrono::milliseconds timeout = 5s);
  // Sends all of `data`; false when the peer is gone or the server stops.
  bool send(std::string_view data);
  // A complete answer with Content-Length (`extra` header lines like "X-A: b\r\n"); without the
  // body when the last request read was a HEAD.
  bool respond(int status, std::string_view body, std::string_view extra = {});
  // Waits `d` unless the server stops first (false then).
  bool pause(std::chrono::milliseconds d);
  // Waits until the peer closes the connection (true), the timeout, or the server stops.
  bool wait_peer_close(std::chrono::milliseconds timeout);
  // Raw bytes (what read_request has buffered first); 0 on EOF, -1 on error/timeout/stop.
  long read_some(char* buf, size_t size, std::chrono::milliseconds timeout);
  // Closes now (shutdown both ways; the fd is released when the handler returns).
  void close();

  int index() const { return index_; }
  int fd() const { return fd_; }
  bool tls() const { return ssl_ != nullptr; }
  LoopbackServer& server() { return *server_; }

 private:
  friend class LoopbackServer;
  bool wait_readable(std::chrono::milliseconds timeout);
  long raw_read(char* buf, size_t size);

  LoopbackServer* server_ = nullptr;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  int index_ = 0;
  std::string buffer_;  // received but not consumed yet
  std::string last_method_;
};

// A CA, and server certificates it signs, made by the openssl CLI in a temp dir removed by the
// destructor.
class TestPki {
 public:
  TestPki();  // the CA; throws std::runtime_error when openssl fails
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  struct Cert {
    std::string cert_file;  // PEM
    std::string key_file;   // PEM
  };
  // A server certificate for `san` ("IP:127.0.0.1,DNS:localhost") signed by the CA; or, with
  // `self_signed`, by itself (no CA trusts it).
  Cert issue(const std::string& name, const std::string& san, bool self_signed = false);
  const std::string& ca_file() const { return ca_file_; }
  const std::string& dir() const { return dir_; }

 private:
  void openssl(const std::vector<std::string>& args);
  std::string dir_;
  std::string ca_file_, ca_key_;
  int serial_ = 1;
};

class LoopbackServer {
 public:
  using Handler = std::function<void(Connection&)>;
  struct Options {
    bool ipv6 = false;                     // listen on ::1 instead of 127.0.0.1
    std::optional<TestPki::Cert> tls;      // serve TLS with this certificate
  };
  explicit LoopbackServer(Handler handler) : LoopbackServer(std::move(handler), Options{}) {}
  LoopbackServer(Handler handler, Options options);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  std::string host() const { return options_.ipv6 ? "[::1]" : "127.0.0.1"; }
  std::string authority() const { return host() + ":" + std::to_string(port_); }
  std::string url(const std::string& path = "/") const;  // "http(s)://127.0.0.1:PORT/path"

  int accepts() const { return accepts_.load(); }
  int tls_handshake_failures() const { return tls_failures_.load(); }
  std::vector<ReceivedRequest> requests() const;
  // Waits until `n` requests were recorded (true) or the timeout.
  bool wait_requests(size_t n, std::chrono::milliseconds timeout = 2s) const;
  // Waits until `n` connections were closed by their handler returning.
  bool wait_closed_connections(int n, std::chrono::milliseconds timeout = 2s) const;

  // Stops accepting, shuts every connection down and joins every thread. Idempotent.
  void stop();
  bool stopping() const { return stopping_.load(); }

 private:
  friend class Connection;
  void accept_loop();
  void run_connection(int fd, int index);
  void record(const ReceivedRequest& request);

  Handler handler_;
  Options options_;
  int listener_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  SSL_CTX* ssl_ctx_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepts_{0};
  std::atomic<int> tls_failures_{0};
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<ReceivedRequest> requests_;
  std::set<int> open_fds_;
  int closed_connections_ = 0;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

inline LoopbackServer::Options ipv6_options() {
  LoopbackServer::Options o;
  o.ipv6 = true;
  return o;
}
inline LoopbackServer::Options tls_options(const TestPki::Cert& cert, bool ipv6 = false) {
  LoopbackServer::Options o;
  o.ipv6 = ipv6;
  o.tls = cert;
  return o;
}

// A forward proxy on 127.0.0.1: CONNECT host:port (only to 127.0.0.1 / ::1) answered with 200
// and relayed both ways; any other request (absolute-form) answered by the proxy itself with
// 200 and the body "proxied <method> <target>". Every request is recorded in server().requests().
class TestProxy {
 public:
  struct Options {
    int connect_status = 200;  // the answer to CONNECT; not 200: refused, the connection closed
  };
  TestProxy() : TestProxy(Options{}) {}
  explicit TestProxy(Options options);
  explicit TestProxy(int connect_status) : TestProxy(Options{connect_status}) {}
  LoopbackServer& server() { return *server_; }
  std::string url() const { return "http://" + server_->authority(); }  // "http://127.0.0.1:PORT"
  std::vector<ReceivedRequest> requests() const { return server_->requests(); }

 private:
  Options options_;
  std::unique_ptr<LoopbackServer> server_;
};

// Saves the proxy variables (http_proxy, HTTPS_PROXY, no_proxy...), unsets them all, and puts
// the saved values back when it goes out of scope.
class ProxyEnv {
 public:
  ProxyEnv();
  ~ProxyEnv();
  ProxyEnv(const ProxyEnv&) = delete;
  ProxyEnv& operator=(const ProxyEnv&) = delete;
  void set(const std::string& name, const std::string& value);

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// The tests' certificates, made once per test process (the temp dir goes at exit): the CA and
//   ip:         IP:127.0.0.1, IP:::1 (signed by the CA)
//   localhost:  DNS:localhost (signed by the CA)
//   other:      IP:127.0.0.2, DNS:other.test (signed by the CA: valid, for another name)
//   selfsigned: IP:127.0.0.1 (signed by itself)
struct SharedPki {
  TestPki pki;
  TestPki::Cert ip, localhost, other, selfsigned;
  SharedPki();
};
SharedPki& shared_pki();

// Client options trusting `ca_file`.
inline ClientOptions client_options(const std::string& ca_file, bool use_proxy = true) {
  ClientOptions o;
  o.ca_file = ca_file;
  o.use_proxy = use_proxy;
  return o;
}

// Whether this machine can listen on ::1 (some containers have no IPv6 at all): the IPv6 cases
// are skipped, with a message, when it cannot.
bool ipv6_loopback_available();

// A port on 127.0.0.1 nothing listens on (bound, then closed).
int closed_port();

// "Basic " + base64(user:password), computed independently of the code under test.
std::string basic_auth(std::string_view user_colon_password);

// Milliseconds since `start`.
long elapsed_ms(std::chrono::steady_clock::time_point start);

}  // namespace vpcri::http::test

// vpcri's outbound HTTP/1.1 client (registries; EC2, STS and instance metadata): one blocking
// request per call, keep-alive connections pooled per origin, TLS through the OpenSSL the daemon
// links anyway, proxies taken from the environment as curl takes them. Boost.Beast parses the
// answers; sockets, deadlines and TLS are ours. It replaced libcurl, whose Debian build maps a
// dozen libraries the daemon never uses (gnutls, krb5, ldap, rtmp, ssh2: ~4.5 MB of RSS).
//
// Transport failures (no usable answer: DNS, refused, reset, timeout, TLS) come back as values;
// any HTTP answer, 4xx and 5xx included, is a success. Exceptions thrown by the body handler
// propagate (the connection is then closed, never reused).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vpcri::http {

struct Request {
  std::string method = "GET";  // GET, HEAD, POST, PUT, DELETE
  std::string url;             // http:// or https://, host may be an IP literal ("[::1]")
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given; a Host here replaces ours
  std::string body;                                          // sent with Content-Length when not GET/HEAD
  std::chrono::milliseconds connect_timeout{10000};          // TCP connect (each address), proxy CONNECT, TLS handshake
  std::chrono::milliseconds total_timeout{0};                // whole request, redirects included; 0: none
  std::chrono::milliseconds stall_timeout{0};                // no byte moves for this long: failure; 0: none
  // Followed 3xx answers with a Location (more is a failure); 0: the redirect is the answer.
  // As curl and browsers do: 303 makes any method but HEAD a GET without body, 301 and 302 make a
  // POST a GET; 307 and 308 keep method and body. Authorization and a caller's Host are dropped
  // when the redirect leaves the origin (scheme, host and port).
  int max_redirects = 0;
};

// Status and headers of the answer handed to the caller (the last one, after redirects).
struct Head {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // names lower-cased, values trimmed
  std::string header(const std::string& lower_name) const;  // the first value, or ""
};

struct Result {
  Head head;          // also on a failure once a header had arrived (status 0: none did)
  std::string error;  // the transport failure, "" when an answer arrived
  int os_errno = 0;   // the socket error behind `error`, when there is one
  bool failed() const { return !error.empty(); }
};

// Receives the body of the final answer, chunk by chunk, as it arrives (never a redirect's).
using BodyHandler = std::function<void(const Head& head, std::string_view chunk)>;

struct ClientOptions {
  std::string ca_file;         // PEM bundle servers are checked against; empty: the system's
  bool use_proxy = true;       // false: never through HTTP(S)_PROXY (instance metadata is link-local)
  size_t max_idle_connections = 8;
  std::string user_agent = "vpcri";
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Thread-safe: concurrent calls each use a connection of their own.
  Result perform(const Request& request, const BodyHandler& on_body);

  // The whole body in memory; an answer larger than `max_body_bytes` is a transport failure.
  struct Answer {
    Result result;
    std::string body;
  };
  Answer perform_buffered(const Request& request, size_t max_body_bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "host[:port]" of "scheme://[user@]host[:port]/path", for the Host header and messages.
std::string url_authority(const std::string& url);

}  // namespace vpcri::http

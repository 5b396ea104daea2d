// HTTP for the AWS clients: one blocking request with its whole answer (status, headers, body),
// behind a small interface so the signer and the clients are tested against a loopback server.
// A transport failure (no HTTP answer: refused, reset, timeout, TLS) throws Ec2Error with
// http_status 0; any HTTP answer, 4xx and 5xx included, is returned.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vpcri::http {
class Client;
}

namespace vpcri::net::aws {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given
  std::string body;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; a repeated header keeps the last
  std::string body;
  std::string header(const std::string& lower_name) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual HttpResponse send(const HttpRequest& request) = 0;
};

struct TransportOptions {
  std::chrono::milliseconds timeout{10000};  // whole request, connect included
  std::string ca_file;                       // empty: the system's CA bundle
  bool use_proxy = true;  // false for IMDS: link-local, never through an HTTP(S)_PROXY
  size_t max_body_bytes = 32 << 20;  // a larger answer is a transport failure, not an OOM
};

// Over common/http's client; thread-safe (connections are pooled, each request uses one alone).
class ClientTransport : public HttpTransport {
 public:
  explicit ClientTransport(TransportOptions options = {});
  ~ClientTransport() override;
  ClientTransport(const ClientTransport&) = delete;
  ClientTransport& operator=(const ClientTransport&) = delete;

  HttpResponse send(const HttpRequest& request) override;

 private:
  TransportOptions options_;
  std::unique_ptr<http::Client> client_;  // its pool keeps connections (and their TLS) warm
};

// "host[:port]" of "scheme://host[:port]/path" (the HTTP Host header value).
std::string url_authority(const std::string& url);
// The path and query of a URL ("/" when it has none).
std::string url_path_and_query(const std::string& url);

}  // namespace vpcri::net::aws

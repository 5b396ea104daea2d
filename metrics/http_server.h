// A small HTTP/1.1 server for read-only endpoints (/metrics, the introspection API): GET and HEAD
// only, one response per connection (Connection: close), a bounded request head, a deadline per
// connection, and a cap on connections served at once. One thread runs a poll loop over every
// connection, so a slow client never holds up another; handlers run on that thread and must be
// quick (they render from memory).
//
// Deliberately separate from cri/streaming's server: that one upgrades connections to SPDY or
// WebSocket sessions with a thread each; these endpoints answer one small document and close.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "common/fd.h"

namespace vpcri::metrics {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// The request's path, query string removed ("/metrics?x=1" -> "/metrics"), and its Accept header.
struct HttpRequest {
  std::string path;
  std::string query;
  std::string accept;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest& request)>;

struct HttpServerOptions {
  size_t max_head_bytes = 8192;                 // a longer request head: 431
  std::chrono::milliseconds timeout{5000};      // from accept to the last byte sent
  int max_connections = 32;                     // more at once: 503
};

// "127.0.0.1:61678" or "[::1]:61678": a literal IP and a port (0: any free port). Throws
// Error(invalid_argument) naming what is wrong.
struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
};
ListenAddress parse_listen_address(const std::string& address);

class HttpServer {
 public:
  // Listens at once; throws Error if the address is bad or taken. `name` appears in logs.
  HttpServer(std::string name, const std::string& address, HttpHandler handler, HttpServerOptions options = {});
  ~HttpServer();  // stops the loop; open connections are closed
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }

 private:
  void loop();

  const std::string name_;
  const HttpHandler handler_;
  const HttpServerOptions options_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;  // eventfd: the destructor ends the loop
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace vpcri::metrics

// The client side of metrics/http_server.h, for vpcrictl and tests: one request per connection,
// the whole answer read until the server closes.
#pragma once

#include <chrono>
#include <string>

namespace vpcri::metrics {

struct HttpAnswer {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// Sends `request` as is to `address` (IP:PORT as parse_listen_address takes it) and returns all
// the server answered. Throws Error(unavailable) if it cannot connect, deadline_exceeded on timeout.
std::string http_exchange(const std::string& address, const std::string& request,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

// GET `path`; throws as http_exchange, and Error(internal) for an answer that is not HTTP.
HttpAnswer http_get(const std::string& address, const std::string& path,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace vpcri::metrics

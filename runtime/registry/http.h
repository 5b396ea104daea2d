// The registry's requests over common/http: one blocking HTTP request, its final answer's status
// and headers, the body streamed to a callback. Transport failures come back as values (the
// caller decides about retries); exceptions thrown by the body callback propagate.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/client.h"

namespace vpcri::runtime::registry::http {

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent for POST/PUT
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds total_timeout{0};    // 0: none (blobs use the low-speed limit instead)
  std::chrono::milliseconds low_speed_time{0};   // abort when no byte arrives for this long; 0: off
  bool follow_redirects = true;                  // http/https only; credentials not sent to other hosts
  int64_t range_from = -1;                       // >= 0: "Range: bytes=N-"
};

using Head = vpcri::http::Head;
using Result = vpcri::http::Result;  // failed(): no HTTP answer (the caller decides about retries)
// Receives body bytes of the final response only (never of redirects); may throw.
using BodyHandler = vpcri::http::BodyHandler;

// Performs `request`. Thread-safe: each call uses a connection of its own, from one pool for
// all registries that keeps connections warm across pulls.
Result perform(const Request& request, const BodyHandler& on_body);

// "scheme://host[:port]" of `url`, for messages ("cannot reach registry 127.0.0.1:5000").
std::string host_of(const std::string& url);

// Percent-encodes a query component.
std::string url_encode(std::string_view text);

}  // namespace vpcri::runtime::registry::http

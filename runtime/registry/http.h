// A thin RAII layer over libcurl's easy interface: one blocking HTTP request, its final answer's
// status and headers, the body streamed to a callback. Transport failures come back as values
// (the caller decides about retries); exceptions thrown by the body callback propagate.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

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

// Status and headers of the final response (after redirects).
struct Head {
  long status = 0;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string header(const std::string& lower_name) const;  // first value or ""
};

struct Result {
  Head head;
  int curl_code = 0;  // CURLcode; 0 when an HTTP answer arrived (any status)
  int os_errno = 0;   // the socket error behind a transport failure, when known
  std::string error;  // transport failure description, "" when curl_code == 0
  bool transport_failed() const { return curl_code != 0; }
};

// Receives body bytes of the final response only (never of redirects); may throw.
using BodyHandler = std::function<void(const Head& head, std::string_view chunk)>;

// Performs `request`. Thread-safe: each call uses its own easy handle (from a small pool that
// keeps connections warm). curl's global state is initialized once, on first use.
Result perform(const Request& request, const BodyHandler& on_body);

// "scheme://host[:port]" of `url`, for messages ("cannot reach registry 127.0.0.1:5000").
std::string host_of(const std::string& url);

// Percent-encodes a query component.
std::string url_encode(std::string_view text);

}  // namespace vpcri::runtime::registry::http

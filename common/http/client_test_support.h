// What the http::Client tests share (client_test.cc, client_redirect_test.cc,
// client_failure_test.cc): requests with small timeouts, a fetch that keeps the body, byte
// patterns and comparisons.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include "common/http/client.h"
#include "common/http/test_server.h"
#include "common/text.h"

namespace vpcri::http::test {

using namespace std::chrono_literals;


struct Got {
  Result result;
  std::string body;
  int chunks = 0;
  long ms = 0;  // how long perform took
};

// A request with timeouts small enough that a client bug cannot hang the test binary.
inline Request make(const std::string& url, const std::string& method = "GET", const std::string& body = {}) {
  Request r;
  r.method = method;
  r.url = url;
  r.body = body;
  r.connect_timeout = 1000ms;
  r.total_timeout = 5000ms;
  return r;
}

inline Got fetch(Client& client, const Request& request) {
  Got g;
  auto start = std::chrono::steady_clock::now();
  g.result = client.perform(request, [&](const Head&, std::string_view chunk) {
    g.body += chunk;
    ++g.chunks;
  });
  g.ms = elapsed_ms(start);
  return g;
}

inline Got fetch(Client& client, const std::string& url) { return fetch(client, make(url)); }

// Every request on the connection answered by `respond` (keep-alive until the client closes).
inline LoopbackServer::Handler keep_alive(std::function<void(Connection&, const ReceivedRequest&)> respond) {
  return [respond = std::move(respond)](Connection& c) {
    while (auto r = c.read_request()) respond(c, *r);
  };
}

// Bytes that differ from position to position, so a reordered or repeated piece shows.
inline std::string pattern(size_t n, unsigned seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251 + seed) & 0xff);
  return s;
}

// "same" or where two byte strings first differ: a failure prints this, not megabytes of body.
inline std::string compare_bytes(const std::string& got, const std::string& want) {
  if (got == want) return "same";
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return "differ at byte " + std::to_string(i) + " (got " + std::to_string(got.size()) + " bytes, want " +
         std::to_string(want.size()) + ")";
}

inline std::string hex(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

inline bool contains_ci(const std::string& haystack, const std::string& needle) {
  return to_lower(haystack).find(to_lower(needle)) != std::string::npos;
}

// Position of the first header named `lower_name` (case-insensitively) on the wire; -1 if absent.
inline int header_index(const ReceivedRequest& r, const std::string& lower_name) {
  for (size_t i = 0; i < r.raw_headers.size(); ++i) {
    if (to_lower(r.raw_headers[i].first) == lower_name) return static_cast<int>(i);
  }
  return -1;
}


}  // namespace vpcri::http::test

// Fuzz target: the HTTP/1.1 request head the streaming server reads before the upgrade (and the
// response head the client side reads). Any input must parse or throw http::HttpError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cri/streaming/http.h"

namespace http = vpcri::streaming::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view head(reinterpret_cast<const char*>(data), size);
  try {
    http::Message request = http::parse_request(head);
    (void)request.values("upgrade");
    (void)request.value("x-stream-protocol-version");
  } catch (const http::HttpError&) {
  }
  try {
    http::Message response = http::parse_response(head);
    (void)response.values("connection");
  } catch (const http::HttpError&) {
  }
  return 0;
}

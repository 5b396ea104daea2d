// One HTTP/1.1 answer read from bytes as they arrive: Boost.Beast's parser (status line, header
// limits, Content-Length, chunked coding, EOF-delimited bodies) behind a small interface, so
// that only response_reader.cc compiles Beast.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/client.h"

namespace vpcri::http::detail {

class ResponseReader {
 public:
  // `head_request`: the answer has no body whatever its headers say.
  explicit ResponseReader(bool head_request);
  ~ResponseReader();
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // Consumes what it can of `bytes` and returns how much; stops once the header is complete, so
  // the caller can look at head() and choose where the body goes (set_body_sink) before feeding
  // the rest. A malformed answer throws TransportError saying why. An exception thrown by the
  // body sink propagates.
  size_t feed(std::string_view bytes);
  // The peer closed the connection: completes an EOF-delimited body; throws TransportError when
  // the answer is cut short.
  void finish_at_eof();

  bool header_done() const;
  bool done() const;
  bool keep_alive() const;  // valid once done()
  const Head& head() const { return head_; }

  // Where body bytes go; by default they are dropped.
  void set_body_sink(std::function<void(std::string_view)> sink);

 private:
  class Parser;
  std::unique_ptr<Parser> parser_;
  Head head_;
  std::function<void(std::string_view)> sink_;
};

}  // namespace vpcri::http::detail

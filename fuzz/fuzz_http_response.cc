// Fuzz target: what common/http reads from a registry or an AWS endpoint, all of it untrusted:
// an answer's status line, headers and body (Content-Length, chunked, EOF-delimited, 1xx), fed
// in pieces whose boundaries the input chooses, as reads from a socket come. Only TransportError
// may leave; the body handed over never exceeds what was fed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/http/connection.h"
#include "common/http/response_reader.h"

namespace http = vpcri::http::detail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool head_request = (data[0] & 1) != 0;
  const size_t piece = 1 + data[1] % 64;  // the reads' size
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t body_bytes = 0;
  try {
    auto reader = std::make_unique<http::ResponseReader>(head_request);
    std::string pending;
    size_t offset = 0;
    while (!reader->done()) {
      if (offset == input.size()) {
        reader->finish_at_eof();
        break;
      }
      pending.append(input.substr(offset, piece));
      offset += std::min(piece, input.size() - offset);
      for (size_t used = 1; used != 0 && !pending.empty() && !reader->done();) {
        bool had_header = reader->header_done();
        used = reader->feed(pending);
        pending.erase(0, used);
        if (!had_header && reader->header_done()) {
          if (reader->head().status / 100 == 1 && reader->head().status != 101) {
            reader = std::make_unique<http::ResponseReader>(head_request);  // interim: as the client does
            used = 1;
            continue;
          }
          (void)reader->head().headers.count("content-type");
          reader->set_body_sink([&](std::string_view chunk) { body_bytes += chunk.size(); });
        }
      }
    }
  } catch (const http::TransportError&) {
  }
  if (body_bytes > input.size()) std::abort();  // more body than bytes received
  return 0;
}

// Fuzz target: the streaming server's SPDY/3.1 input (cri/streaming/spdy.*), the bytes a
// kubectl exec / port-forward client sends after the upgrade. The input is fed to the frame
// parser in pieces (the first byte picks the piece size, as reads split a stream); every header
// block goes through one zlib inflater, as in a connection. Anything must end in frames or
// vpcri::Error (ProtocolError).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.h"
#include "cri/streaming/spdy.h"

namespace spdy = vpcri::streaming::spdy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  spdy::FrameParser parser(64 * 1024);
  spdy::HeaderCodec codec;
  try {
    for (size_t at = 0; at < bytes.size(); at += piece) {
      parser.feed(bytes.substr(at, std::min(piece, bytes.size() - at)));
      while (auto frame = parser.next()) {
        if (frame->type == spdy::Type::syn_stream || frame->type == spdy::Type::syn_reply ||
            frame->type == spdy::Type::headers) {
          spdy::Headers headers = codec.decompress(frame->data);
          (void)spdy::header_value(headers, "streamtype");
        }
      }
    }
  } catch (const vpcri::Error&) {
  }
  return 0;
}

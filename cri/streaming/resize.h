// The resize messages of exec/attach sessions (SPDY resize stream, WebSocket channel 4):
// {"Width":W,"Height":H} objects one after the other, possibly split across frames.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cri/streaming/session.h"

namespace vpcri::streaming {

// Parses the resize stream: JSON objects one after the other, possibly split across frames.
class ResizeReader {
 public:
  // Appends bytes; returns the latest complete size seen, if any.
  std::optional<WindowSize> feed(std::string_view bytes) {
    buffer_.append(bytes);
    if (buffer_.size() > 4096) buffer_.clear();  // garbage: never a valid size message this long
    std::optional<WindowSize> latest;
    size_t end;
    while ((end = buffer_.find('}')) != std::string::npos) {
      std::string object = buffer_.substr(0, end + 1);
      buffer_.erase(0, end + 1);
      nlohmann::json j = nlohmann::json::parse(object, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      auto dim = [&](const char* key) -> uint16_t {
        auto it = j.find(key);
        if (it == j.end() || !it->is_number_unsigned() || it->get<uint64_t>() > 0xffff) return 0;
        return static_cast<uint16_t>(it->get<uint64_t>());
      };
      WindowSize size{dim("Width"), dim("Height")};
      if (size.width != 0 && size.height != 0) latest = size;  // a 0 side is ignored, as containerd
    }
    return latest;
  }

 private:
  std::string buffer_;
};

}  // namespace vpcri::streaming

// UTF-8 validation for text that must be UTF-8 (YAML, JSON, cgroup names): nlohmann::json
// refuses to serialize anything else, so such bytes are refused where they enter.
#pragma once

#include <cstddef>
#include <string_view>

namespace vpcri {

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
// surrogates and values past U+10FFFF included), or std::string_view::npos if all of `s` is UTF-8.
size_t invalid_utf8_offset(std::string_view s);
inline bool valid_utf8(std::string_view s) { return invalid_utf8_offset(s) == std::string_view::npos; }

}  // namespace vpcri

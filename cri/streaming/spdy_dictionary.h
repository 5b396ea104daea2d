// The SPDY/3 zlib dictionary every header block is compressed with.
#pragma once

#include <cstddef>

namespace vpcri::streaming::spdy {

constexpr size_t kHeaderDictionarySize = 1423;
extern const unsigned char kHeaderDictionary[kHeaderDictionarySize];

}  // namespace vpcri::streaming::spdy

// Fuzz target: image references as kubelet and users send them. Any input must parse or throw
// vpcri::Error; a parsed reference must print as a reference that parses back to itself.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "runtime/image/image_manager.h"

using vpcri::runtime::image::parse_reference;
using vpcri::runtime::image::Reference;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  Reference ref;
  try {
    ref = parse_reference(text);
  } catch (const vpcri::Error&) {
    return 0;
  }
  // Normalized form is a fixed point: records store it and later parse it again.
  Reference again = parse_reference(ref.to_string());
  if (again.domain != ref.domain || again.repository != ref.repository || again.tag != ref.tag ||
      again.digest != ref.digest)
    __builtin_trap();
  return 0;
}

// Fuzz target: the config file (YAML). Any input must end in a Config or a vpcri::Error (a
// located ConfigError); any other exception, a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.h"
#include "cri/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  try {
    vpcri::cri::Config config = vpcri::cri::parse_config(yaml, "fuzz.yaml");
    (void)vpcri::cri::config_to_json(config);
    vpcri::cri::validate(config);
  } catch (const vpcri::Error&) {
  }
  return 0;
}

#include "common/failpoint.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vpcri {

void failpoint(std::string_view name) {
  static const std::string armed = [] {
    const char* value = std::getenv("VPCRI_FAILPOINT");
    return std::string(value ? value : "");
  }();
  if (armed.empty() || armed != name) return;
  std::fprintf(stderr, "vpcri: failpoint %s reached: SIGKILL\n", armed.c_str());
  std::fflush(stderr);
  ::raise(SIGKILL);
}

}  // namespace vpcri

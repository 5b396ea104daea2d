#include "cri/server/exec_output.h"

#include <algorithm>

namespace vpcri::cri {

size_t exec_output_budget(size_t max_message) {
  constexpr size_t kEnvelope = 1024;  // tags, lengths (<= 5 bytes each) and the exit code, generously
  return max_message > kEnvelope ? max_message - kEnvelope : 0;
}

size_t fit_exec_output(std::string& stdout_data, std::string& stderr_data, size_t budget) {
  const size_t total = stdout_data.size() + stderr_data.size();
  if (total <= budget) return 0;
  const size_t half = budget / 2;
  // The smaller stream keeps all it has up to half; the other takes what remains.
  size_t keep_err = std::min(stderr_data.size(), std::max(half, budget - std::min(budget, stdout_data.size())));
  size_t keep_out = std::min(stdout_data.size(), budget - keep_err);
  stdout_data.resize(keep_out);
  stderr_data.resize(keep_err);
  return total - keep_out - keep_err;
}

}  // namespace vpcri::cri

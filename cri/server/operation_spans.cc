#include "cri/server/operation_spans.h"

#include <cstdio>

#include "common/log.h"
#include "metrics/registry.h"

namespace vpcri::cri {
namespace {

// Phases are sub-millisecond to seconds: finer than metrics::latency_buckets() at the low end.
const std::vector<double>& phase_buckets() {
  static const std::vector<double> buckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                              0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
  return buckets;
}

std::string milliseconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", seconds * 1e3);
  return buf;
}

}  // namespace

OperationSpans::~OperationSpans() {
  try {
    static auto& phase_seconds = metrics::global().histogram(
        "vpcri_operation_phase_seconds",
        "Time spent in each phase of a completed pod start operation (RunPodSandbox, CreateContainer, StartContainer).",
        {"operation", "phase"}, phase_buckets());
    if (done_) {
      for (const auto& phase : timer_.phases()) phase_seconds.with({operation_, phase.name}).observe(phase.seconds);
    }
    if (!log::enabled(log::Level::debug)) return;
    std::string phases;
    for (const auto& phase : timer_.phases()) {
      phases += (phases.empty() ? "" : " ") + phase.name + "=" + milliseconds(phase.seconds);
    }
    log::debug("operation phases", {{"operation", operation_},
                                    {"completed", done_ ? "true" : "false"},
                                    {"total_ms", milliseconds(timer_.total_seconds())},
                                    {"phases_ms", phases}});
  } catch (...) {
    // Timing is never worth failing (or terminating) an RPC over.
  }
}

}  // namespace vpcri::cri

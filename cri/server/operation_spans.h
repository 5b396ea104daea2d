// Per-phase timing of the pod start path (RunPodSandbox, CreateContainer, StartContainer):
// each phase goes to the histogram vpcri_operation_phase_seconds{operation,phase}, and one debug
// log line per operation lists them all (bench/ and a human read where the milliseconds go).
#pragma once

#include <string>

#include "common/phase_timer.h"

namespace vpcri::cri {

class OperationSpans {
 public:
  explicit OperationSpans(const char* operation) : operation_(operation) {}
  // Reports the phases marked so far (also when the operation failed half-way: the log line
  // then says so).
  ~OperationSpans();
  OperationSpans(const OperationSpans&) = delete;
  OperationSpans& operator=(const OperationSpans&) = delete;

  void mark(std::string phase) { timer_.mark(std::move(phase)); }
  // The operation completed; without it the phases are logged as a failed attempt, not observed.
  void done() { done_ = true; }

 private:
  const char* operation_;
  PhaseTimer timer_;
  bool done_ = false;
};

}  // namespace vpcri::cri

// Where an operation spends its time: monotonic timestamps at each step, kept as named phases.
//
//   PhaseTimer timer;
//   ...validate...       timer.mark("validate");   // time since the start
//   ...attach network... timer.mark("network");    // time since the previous mark
//
// Knows nothing of metrics or logs; cri/server/operation_spans.h reports the phases.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace vpcri {

class PhaseTimer {
 public:
  using Clock = std::chrono::steady_clock;
  struct Phase {
    std::string name;
    double seconds;
  };

  PhaseTimer() : start_(Clock::now()), last_(start_) {}

  // Ends the current phase under `name`; the next phase starts now.
  void mark(std::string name) {
    const auto now = Clock::now();
    phases_.push_back({std::move(name), std::chrono::duration<double>(now - last_).count()});
    last_ = now;
  }
  const std::vector<Phase>& phases() const { return phases_; }
  double total_seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  Clock::time_point start_;
  Clock::time_point last_;
  std::vector<Phase> phases_;
};

}  // namespace vpcri

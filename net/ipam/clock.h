// Time source for IPAM. Cooldowns, shrink rate limits, ENI lifetimes and backoff all read the
// time through this, so tests drive time by hand instead of sleeping.
#pragma once

#include <chrono>
#include <functional>

namespace vpcri::net::ipam {

using TimePoint = std::chrono::steady_clock::time_point;
using Clock = std::function<TimePoint()>;

inline Clock steady_clock() {
  return [] { return std::chrono::steady_clock::now(); };
}

// A clock that moves only when told to. For tests; not thread-safe on its own (advance it from
// the thread that also runs the code under test).
class ManualClock {
 public:
  TimePoint now() const { return now_; }
  void advance(std::chrono::steady_clock::duration d) { now_ += d; }
  Clock clock() {
    return [this] { return now_; };
  }

 private:
  TimePoint now_ = TimePoint{} + std::chrono::hours(1000);
};

}  // namespace vpcri::net::ipam

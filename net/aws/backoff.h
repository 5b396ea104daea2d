// Jittered exponential backoff between retries of a failed AWS call ("full jitter": a uniform
// delay up to base * 2^attempt, capped), with the sleep injectable so tests never wait.
#pragma once

#include <chrono>
#include <functional>

namespace vpcri::net::aws {

struct Backoff {
  std::chrono::milliseconds base{200};
  std::chrono::milliseconds cap{20000};
  std::function<void(std::chrono::milliseconds)> sleep;  // empty: std::this_thread::sleep_for

  // The delay before retry number `attempt` (0 for the first retry): in [1 ms, min(cap, base * 2^attempt)].
  std::chrono::milliseconds delay(int attempt) const;
  // Sleeps delay(attempt).
  void wait(int attempt) const;
};

}  // namespace vpcri::net::aws

// A client-side token bucket in front of every EC2 call: `burst` calls at once, then
// `per_second` on average, shared by every thread using one client. EC2 throttles per account
// and region, so a node that spaces its own calls keeps its neighbours' calls working too.
// Clock and sleep are injectable so tests assert the waits without waiting.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>

namespace vpcri::net::aws {

class TokenBucket {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Sleep = std::function<void(std::chrono::nanoseconds)>;

  // per_second <= 0: no limit.
  TokenBucket(double per_second, int burst, Clock clock = {}, Sleep sleep = {});

  // Takes a token, waiting until one is available.
  void acquire();
  // Takes a token now (the balance may go below zero) and returns how long the caller must wait
  // before using it; callers that reserve in turn are spaced 1/per_second apart.
  std::chrono::nanoseconds reserve();

 private:
  std::chrono::steady_clock::time_point now() const;

  double per_second_;
  double burst_;
  Clock clock_;
  Sleep sleep_;
  std::mutex mutex_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace vpcri::net::aws

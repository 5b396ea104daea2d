#include "net/aws/token_bucket.h"

#include <algorithm>
#include <thread>

namespace vpcri::net::aws {

TokenBucket::TokenBucket(double per_second, int burst, Clock clock, Sleep sleep)
    : per_second_(per_second),
      burst_(std::max(1, burst)),
      clock_(std::move(clock)),
      sleep_(std::move(sleep)),
      tokens_(burst_),
      last_(now()) {}

std::chrono::steady_clock::time_point TokenBucket::now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

std::chrono::nanoseconds TokenBucket::reserve() {
  if (per_second_ <= 0) return std::chrono::nanoseconds(0);
  std::lock_guard lock(mutex_);
  auto current = now();
  double elapsed = std::chrono::duration<double>(current - last_).count();
  last_ = current;
  tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
  tokens_ -= 1;
  if (tokens_ >= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<long long>(-tokens_ / per_second_ * 1e9));
}

void TokenBucket::acquire() {
  auto wait = reserve();
  if (wait.count() <= 0) return;
  if (sleep_) {
    sleep_(wait);
  } else {
    std::this_thread::sleep_for(wait);
  }
}

}  // namespace vpcri::net::aws

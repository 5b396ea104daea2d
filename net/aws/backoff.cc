#include "net/aws/backoff.h"

#include <algorithm>
#include <random>
#include <thread>

namespace vpcri::net::aws {

std::chrono::milliseconds Backoff::delay(int attempt) const {
  using std::chrono::milliseconds;
  long long ceiling = std::max<long long>(1, base.count());
  for (int i = 0; i < attempt && ceiling < cap.count(); ++i) ceiling *= 2;
  ceiling = std::max<long long>(1, std::min<long long>(ceiling, cap.count()));
  thread_local std::mt19937_64 random{std::random_device{}()};
  return milliseconds(std::uniform_int_distribution<long long>(1, ceiling)(random));
}

void Backoff::wait(int attempt) const {
  auto duration = delay(attempt);
  if (sleep) {
    sleep(duration);
  } else {
    std::this_thread::sleep_for(duration);
  }
}

}  // namespace vpcri::net::aws

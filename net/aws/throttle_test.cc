// TokenBucket and Backoff with an injected clock and sleep: the waits they ask for, never timed.
#include <doctest/doctest.h>

#include <vector>

#include "net/aws/backoff.h"
#include "net/aws/token_bucket.h"

using namespace vpcri::net::aws;
using namespace std::chrono_literals;

TEST_CASE("token bucket: a burst passes at once, then calls are spaced 1/rate apart") {
  auto clock_now = std::chrono::steady_clock::time_point{} + 1h;
  std::vector<std::chrono::nanoseconds> sleeps;
  TokenBucket bucket(
      2.0, 3, [&] { return clock_now; }, [&](std::chrono::nanoseconds wait) { sleeps.push_back(wait); });
  for (int i = 0; i < 3; ++i) bucket.acquire();
  CHECK(sleeps.empty());
  bucket.acquire();  // 4th within the same instant: half a second at 2/s
  REQUIRE(sleeps.size() == 1);
  CHECK(sleeps[0] == 500ms);
  CHECK(bucket.reserve() == 1000ms);  // the next one queues behind it
  clock_now += 10s;                   // refilled, but never above the burst
  for (int i = 0; i < 3; ++i) CHECK(bucket.reserve() == 0ns);
  CHECK(bucket.reserve() > 0ns);
}

TEST_CASE("token bucket: rate 0 is unlimited") {
  std::vector<std::chrono::nanoseconds> sleeps;
  TokenBucket bucket(0, 1, {}, [&](std::chrono::nanoseconds wait) { sleeps.push_back(wait); });
  for (int i = 0; i < 100; ++i) bucket.acquire();
  CHECK(sleeps.empty());
}

TEST_CASE("backoff: jittered, growing, capped") {
  Backoff backoff;
  backoff.base = 100ms;
  backoff.cap = 1000ms;
  for (int round = 0; round < 200; ++round) {
    CHECK(backoff.delay(0) >= 1ms);
    CHECK(backoff.delay(0) <= 100ms);
    CHECK(backoff.delay(2) <= 400ms);
    CHECK(backoff.delay(30) <= 1000ms);
  }
  // Jitter: 200 draws below 400 ms are not all the same value.
  std::chrono::milliseconds first = backoff.delay(2);
  bool varied = false;
  for (int round = 0; round < 200 && !varied; ++round) varied = backoff.delay(2) != first;
  CHECK(varied);
  std::vector<std::chrono::milliseconds> slept;
  backoff.sleep = [&](std::chrono::milliseconds d) { slept.push_back(d); };
  backoff.wait(1);
  REQUIRE(slept.size() == 1);
  CHECK(slept[0] <= 200ms);
}

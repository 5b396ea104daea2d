#include "cri/streaming/token_cache.h"

#include <doctest/doctest.h>

#include <set>

#include "common/error.h"

using namespace vpcri::streaming;
using namespace std::chrono_literals;

namespace {

struct FakeClock {
  TokenCache::Clock::time_point now{};
  std::function<TokenCache::Clock::time_point()> fn() {
    return [this] { return now; };
  }
};

std::shared_ptr<const Request> req(Kind kind) {
  auto r = std::make_shared<Request>();
  r->kind = kind;
  return r;
}

}  // namespace

TEST_CASE("a token is single use") {
  FakeClock clock;
  TokenCache cache(60s, 10, clock.fn());
  std::string t = cache.insert(req(Kind::exec));
  CHECK(t.size() == 11);  // 8 bytes, unpadded base64url
  CHECK(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
  auto r = cache.consume(t);
  REQUIRE(r);
  CHECK(r->kind == Kind::exec);
  CHECK_FALSE(cache.consume(t));
  CHECK_FALSE(cache.consume("unknown"));
}

TEST_CASE("an expired token is refused and removed") {
  FakeClock clock;
  TokenCache cache(60s, 10, clock.fn());
  std::string t = cache.insert(req(Kind::attach));
  clock.now += 61s;
  CHECK_FALSE(cache.consume(t));
  CHECK(cache.size() == 0);
}

TEST_CASE("the cache is bounded; expired entries make room") {
  FakeClock clock;
  TokenCache cache(60s, 3, clock.fn());
  for (int i = 0; i < 3; i++) cache.insert(req(Kind::exec));
  CHECK_THROWS_AS(cache.insert(req(Kind::exec)), vpcri::Error);
  clock.now += 61s;
  CHECK_NOTHROW(cache.insert(req(Kind::exec)));
  CHECK(cache.size() == 1);
}

TEST_CASE("tokens differ") {
  TokenCache cache(60s, 1000);
  std::set<std::string> seen;
  for (int i = 0; i < 500; i++) seen.insert(cache.insert(req(Kind::port_forward)));
  CHECK(seen.size() == 500);
}

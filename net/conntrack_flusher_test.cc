#include "net/conntrack_flusher.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <utility>

using namespace vpcri::net;
using namespace std::chrono_literals;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// A queue like the datastore's, and a record of the batches flushed.
struct Fake {
  std::mutex mu;
  std::vector<ipam::FlushRequest> queued;
  std::vector<std::vector<IpAddress>> batches;
  std::function<void()> during_flush = [] {};

  void queue(const char* address) {
    std::lock_guard lock(mu);
    queued.push_back({ip(address), ipam::FlushRequest::Reason::released, "sandbox"});
  }
  ConntrackFlusher::Drain drain() {
    return [this] {
      std::lock_guard lock(mu);
      return std::exchange(queued, {});
    };
  }
  ConntrackFlusher::Flush flush() {
    return [this](const std::vector<IpAddress>& ips) {
      during_flush();
      std::lock_guard lock(mu);
      batches.push_back(ips);
      return ips.size();
    };
  }
  size_t batch_count() {
    std::lock_guard lock(mu);
    return batches.size();
  }
};

bool eventually(const std::function<bool()>& done) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

}  // namespace

TEST_CASE("everything queued is flushed in one batch, in the background") {
  Fake fake;
  ConntrackFlusher flusher(fake.drain(), fake.flush());
  fake.queue("10.0.0.1");
  fake.queue("10.0.0.2");
  fake.queue("10.0.0.3");
  flusher.wake();
  REQUIRE(eventually([&] { return fake.batch_count() == 1; }));
  std::lock_guard lock(fake.mu);
  CHECK(fake.batches[0] == std::vector<IpAddress>{ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")});
  CHECK(fake.queued.empty());
}

TEST_CASE("at most one walk per interval: IPs released meanwhile join the next one") {
  Fake fake;
  ConntrackFlusher flusher(fake.drain(), fake.flush(), 300ms);
  fake.queue("10.0.0.1");
  flusher.wake();
  REQUIRE(eventually([&] { return fake.batch_count() == 1; }));
  fake.queue("10.0.0.2");
  flusher.wake();
  fake.queue("10.0.0.3");
  flusher.wake();
  std::this_thread::sleep_for(100ms);
  CHECK(fake.batch_count() == 1);  // still inside the interval
  REQUIRE(eventually([&] { return fake.batch_count() == 2; }));
  std::lock_guard lock(fake.mu);
  CHECK(fake.batches[1] == std::vector<IpAddress>{ip("10.0.0.2"), ip("10.0.0.3")});
}

TEST_CASE("flush_now returns only once a walk covering its requests has finished") {
  Fake fake;
  std::promise<void> walking;
  std::atomic<bool> walk_done{false};
  std::atomic<int> calls{0};
  fake.during_flush = [&] {
    if (calls++ == 0) {  // the background walk: slow
      walking.set_value();
      std::this_thread::sleep_for(200ms);
      walk_done = true;
    }
  };
  ConntrackFlusher flusher(fake.drain(), fake.flush());
  fake.queue("10.0.0.7");  // a reused IP, say: the background thread takes it first
  flusher.wake();
  walking.get_future().wait();
  flusher.flush_now();  // nothing left to drain, but the walk that took 10.0.0.7 must be over
  CHECK(walk_done.load());
  CHECK(fake.batch_count() == 1);
}

TEST_CASE("a failed flush is logged and the next batch still runs; queued work is done before stopping") {
  Fake fake;
  std::atomic<int> calls{0};
  fake.during_flush = [&] {
    if (calls++ == 0) throw std::runtime_error("netlink: permission denied");
  };
  {
    ConntrackFlusher flusher(fake.drain(), fake.flush());
    fake.queue("10.0.0.1");
    flusher.flush_now();  // throws inside: logged, not passed on
    CHECK(fake.batch_count() == 0);
    fake.queue("10.0.0.2");
    flusher.wake();
  }  // the destructor flushes what was queued before it stops
  std::lock_guard lock(fake.mu);
  REQUIRE(fake.batches.size() == 1);
  CHECK(fake.batches[0] == std::vector<IpAddress>{ip("10.0.0.2")});
}

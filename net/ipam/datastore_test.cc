#include "net/ipam/datastore.h"

#include <doctest/doctest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "common/error.h"
#include "metrics/registry.h"

using namespace vpcri::net::ipam;
using vpcri::Errc;
using vpcri::Error;
using vpcri::net::Cidr;
using vpcri::net::IpAddress;

namespace {

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }

// ENI at device `device` in 10.0.0.0/16: primary 10.0.<device>.1, secondaries .2 .. .(count+1).
EniInfo make_eni(int device, int count) {
  EniInfo eni;
  eni.id = "eni-" + std::to_string(device);
  eni.device_number = device;
  eni.subnet_id = "subnet-x";
  eni.subnet_cidr = *Cidr::parse("10.0.0.0/16");
  eni.primary_ip = ip("10.0.0.1");
  eni.primary_ip.bytes[2] = static_cast<uint8_t>(device);
  for (int i = 0; i < count; ++i) {
    IpAddress a = eni.primary_ip;
    a.bytes[3] = static_cast<uint8_t>(2 + i);
    eni.secondary_ips.push_back(a);
  }
  return eni;
}

std::string exhaustion_message(Datastore& ds, const std::string& sandbox = "sb-exhausted") {
  try {
    ds.allocate(sandbox, "default", "p");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::resource_exhausted);
    return e.what();
  }
  FAIL("allocate succeeded on an exhausted pool");
  return "";
}

}  // namespace

TEST_CASE("allocate fills the primary ENI first, lowest address first, and reports the route table") {
  ManualClock clock;
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  ds.add_eni(make_eni(1, 2));
  ds.add_eni(make_eni(0, 2));

  Allocation a = ds.allocate("sb-a", "default", "a");
  CHECK(a.ip == ip("10.0.0.2"));
  CHECK(a.eni_id == "eni-0");
  CHECK(a.device_number == 0);
  CHECK_FALSE(a.route_table.has_value());
  CHECK_FALSE(a.reused);
  CHECK(ds.allocate("sb-b", "default", "b").ip == ip("10.0.0.3"));
  Allocation c = ds.allocate("sb-c", "default", "c");
  CHECK(c.ip == ip("10.0.1.2"));
  CHECK(c.eni_id == "eni-1");
  REQUIRE(c.route_table.has_value());
  CHECK(*c.route_table == 2);

  auto found = ds.lookup("sb-c");
  REQUIRE(found);
  CHECK(found->ip == c.ip);
  CHECK(found->pod_namespace == "default");
  CHECK(found->pod_name == "c");
  CHECK_FALSE(ds.lookup("sb-none"));
  PoolStats s = ds.stats();
  CHECK(s.enis == 2);
  CHECK(s.total == 4);
  CHECK(s.assigned == 3);
}

TEST_CASE("an ENI's primary IP is never given to a pod") {
  ManualClock clock;
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  EniInfo eni = make_eni(0, 1);
  eni.secondary_ips.push_back(eni.primary_ip);  // a provider listing it among the others
  ds.add_eni(eni);
  CHECK(ds.stats().total == 1);
  CHECK(ds.allocate("sb-1", "ns", "p").ip == ip("10.0.0.2"));
  CHECK_THROWS_AS(ds.allocate("sb-2", "ns", "p"), Error);
}

TEST_CASE("allocate is idempotent per sandbox; a different pod on the same sandbox id is refused") {
  ManualClock clock;
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  ds.add_eni(make_eni(0, 3));
  Allocation first = ds.allocate("sb-1", "ns", "pod");
  Allocation again = ds.allocate("sb-1", "ns", "pod");
  CHECK(again.ip == first.ip);
  CHECK(ds.stats().assigned == 1);
  try {
    ds.allocate("sb-1", "ns", "other");
    FAIL("expected already_exists");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::already_exists);
    CHECK(std::string(e.what()).find("sb-1") != std::string::npos);
  }
  CHECK_THROWS_AS(ds.allocate("", "ns", "pod"), Error);
}

TEST_CASE("release is idempotent and queues a conntrack flush; reuse queues another") {
  ManualClock clock;
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  ds.add_eni(make_eni(0, 1));
  Allocation a = ds.allocate("sb-1", "ns", "a");
  auto released = ds.release("sb-1");
  REQUIRE(released);
  CHECK(released->ip == a.ip);
  CHECK_FALSE(ds.release("sb-1"));
  CHECK_FALSE(ds.release("never-existed"));

  auto flushes = ds.drain_flush_requests();
  REQUIRE(flushes.size() == 1);
  CHECK(flushes[0].ip == a.ip);
  CHECK(flushes[0].reason == FlushRequest::Reason::released);
  CHECK(flushes[0].sandbox_id == "sb-1");
  CHECK(ds.drain_flush_requests().empty());

  clock.advance(std::chrono::seconds(30));
  Allocation b = ds.allocate("sb-2", "ns", "b");
  CHECK(b.ip == a.ip);
  CHECK(b.reused);
  flushes = ds.drain_flush_requests();
  REQUIRE(flushes.size() == 1);
  CHECK(flushes[0].reason == FlushRequest::Reason::reused);
  CHECK(flushes[0].sandbox_id == "sb-2");
}

TEST_CASE("a released IP is not reused before the cooldown ends (fake clock)") {
  ManualClock clock;
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  ds.add_eni(make_eni(0, 2));
  Allocation a = ds.allocate("sb-a", "ns", "a");
  ds.allocate("sb-b", "ns", "b");
  ds.release("sb-a");
  CHECK(ds.stats().cooling == 1);
  CHECK(ds.stats().available() == 1);
  CHECK(ds.stats().free() == 0);

  CHECK(exhaustion_message(ds, "sb-c").find("1 in use, 1 cooling down (free again within 30 s)") != std::string::npos);
  clock.advance(std::chrono::seconds(29));
  CHECK(exhaustion_message(ds, "sb-c").find("free again within 1 s") != std::string::npos);
  clock.advance(std::chrono::seconds(1));
  Allocation c = ds.allocate("sb-c", "ns", "c");
  CHECK(c.ip == a.ip);
  CHECK(ds.stats().cooling == 0);
}

TEST_CASE("1,000 randomized allocate/release cycles never hand out an IP twice nor before its cooldown") {
  ManualClock clock;
  const auto cooldown = std::chrono::seconds(30);
  Datastore ds({cooldown, clock.clock()});
  ds.add_eni(make_eni(0, 9));
  ds.add_eni(make_eni(1, 9));
  ds.add_eni(make_eni(2, 9));
  const int total = 27;

  std::mt19937 rng(20240611);
  std::map<std::string, IpAddress> held;                        // sandbox -> IP
  std::map<IpAddress, std::string, IpLess> holder;              // IP -> sandbox
  std::map<IpAddress, TimePoint, IpLess> released_at;           // IP -> last release
  int next_id = 0, allocations = 0, exhausted = 0;
  for (int cycle = 0; cycle < 1000; ++cycle) {
    clock.advance(std::chrono::seconds(std::uniform_int_distribution<int>(0, 6)(rng)));
    bool do_allocate = held.empty() || std::uniform_int_distribution<int>(0, 99)(rng) < 55;
    if (do_allocate) {
      std::string sandbox = "sb-" + std::to_string(next_id++);
      try {
        Allocation a = ds.allocate(sandbox, "ns", sandbox);
        ++allocations;
        REQUIRE_MESSAGE(holder.count(a.ip) == 0, "IP ", a.ip.to_string(), " handed out twice");
        if (auto it = released_at.find(a.ip); it != released_at.end()) {
          REQUIRE_MESSAGE(clock.now() - it->second >= cooldown, "IP ", a.ip.to_string(), " reused during its cooldown");
        }
        held[sandbox] = a.ip;
        holder[a.ip] = sandbox;
      } catch (const Error& e) {
        REQUIRE(e.code() == Errc::resource_exhausted);
        REQUIRE(ds.stats().free() == 0);  // refused only when nothing was free
        ++exhausted;
      }
    } else {
      auto it = held.begin();
      std::advance(it, std::uniform_int_distribution<size_t>(0, held.size() - 1)(rng));
      auto released = ds.release(it->first);
      REQUIRE(released);
      REQUIRE(released->ip == it->second);
      released_at[it->second] = clock.now();
      holder.erase(it->second);
      held.erase(it);
    }
    PoolStats s = ds.stats();
    REQUIRE(s.assigned == static_cast<int>(held.size()));
    REQUIRE(s.total == total);
    REQUIRE(s.free() + s.cooling + s.assigned == total);
  }
  // The run exercised both a busy pool and exhaustion.
  CHECK(allocations > 400);
  CHECK(exhausted > 0);
  for (const auto& [sandbox, address] : held) {
    auto found = ds.lookup(sandbox);
    REQUIRE(found);
    CHECK(found->ip == address);
  }
}

// vpcri_ipam_allocation_failures_total{cause}: moves by exactly one for each failed allocate.
struct CountsFailureAs {
  explicit CountsFailureAs(const char* cause) : cause_(cause), before_(value()) {}
  ~CountsFailureAs() { CHECK_MESSAGE(value() == before_ + 1, cause_); }
  double value() const {
    return vpcri::metrics::global().counter("vpcri_ipam_allocation_failures_total", "", {"cause"}).with({cause_}).value();
  }
  const char* cause_;
  double before_;
};

TEST_CASE("exhaustion messages say why, from the real state, and count the cause") {
  ManualClock clock;
  Datastore ds({std::chrono::seconds(30), clock.clock()});

  SUBCASE("node not described yet") {
    CountsFailureAs counted("pool_not_described");
    CHECK(exhaustion_message(ds).find("has not described the node yet") != std::string::npos);
  }
  SUBCASE("ENI limit reached") {
    ds.set_limits(3, 5);
    for (int d = 0; d < 3; ++d) ds.add_eni(make_eni(d, 5));
    for (int i = 0; i < 14; ++i) ds.allocate("sb-" + std::to_string(i), "ns", "p");
    ds.allocate("sb-14", "ns", "p");
    CountsFailureAs counted("eni_limit");
    std::string msg = exhaustion_message(ds);
    CHECK(msg.find("no free IP on this node: 15 of 15 in use, ENI limit 3 reached") == 0);
  }
  SUBCASE("cooling down") {
    ds.set_limits(3, 8);
    for (int d = 0; d < 3; ++d) ds.add_eni(make_eni(d, 8));
    for (int i = 0; i < 24; ++i) ds.allocate("sb-" + std::to_string(i), "ns", "p");
    for (int i = 0; i < 4; ++i) ds.release("sb-" + std::to_string(i));
    {
      CountsFailureAs counted("cooling");
      CHECK(exhaustion_message(ds) == "no free IP on this node: 20 in use, 4 cooling down (free again within 30 s)");
    }
    clock.advance(std::chrono::milliseconds(10500));
    CHECK(exhaustion_message(ds) == "no free IP on this node: 20 in use, 4 cooling down (free again within 20 s)");
  }
  SUBCASE("subnet full") {
    ds.set_limits(3, 5);
    ds.add_eni(make_eni(0, 2));
    ds.allocate("sb-1", "ns", "p");
    ds.allocate("sb-2", "ns", "p");
    ds.set_growth_block(GrowthBlock{GrowthBlock::Kind::subnet_full, "subnet-x", "InsufficientFreeAddressesInSubnet",
                                    clock.now() + std::chrono::seconds(120)});
    CountsFailureAs counted("subnet_full");
    std::string msg = exhaustion_message(ds);
    CHECK(msg.find("no free IP on this node: 2 of 2 in use, subnet subnet-x has no free addresses") == 0);
    CHECK(msg.find("next attempt in 120 s") != std::string::npos);
  }
  SUBCASE("provider failing") {
    ds.set_limits(3, 5);
    ds.add_eni(make_eni(0, 1));
    ds.allocate("sb-1", "ns", "p");
    ds.set_growth_block(GrowthBlock{GrowthBlock::Kind::provider_error, "", "RequestLimitExceeded",
                                    clock.now() + std::chrono::seconds(4)});
    CountsFailureAs counted("provider_error");
    CHECK(exhaustion_message(ds) ==
          "no free IP on this node: 1 of 1 in use, adding addresses failed: RequestLimitExceeded (next attempt in 4 s)");
  }
  SUBCASE("pool still growing") {
    ds.set_limits(3, 5);
    ds.add_eni(make_eni(0, 1));
    ds.allocate("sb-1", "ns", "p");
    CountsFailureAs counted("pool_growing");
    std::string msg = exhaustion_message(ds);
    CHECK(msg.find("no free IP on this node: 1 of 1 in use; the pool manager is adding addresses (1 of 3 ENIs attached)") == 0);
  }
}

TEST_CASE("IPs in use or cooling down are never taken back; ENIs in use are never removed") {
  ManualClock clock;
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  ds.add_eni(make_eni(0, 2));
  ds.add_eni(make_eni(1, 3));
  ds.add_eni(make_eni(2, 2));
  // Fill device 0 and take one IP of device 1; free one of device 1 into cooldown.
  ds.allocate("sb-0", "ns", "p");
  ds.allocate("sb-1", "ns", "p");
  Allocation on_eni1 = ds.allocate("sb-2", "ns", "p");
  Allocation cooling = ds.allocate("sb-3", "ns", "p");
  REQUIRE(on_eni1.eni_id == "eni-1");
  REQUIRE(cooling.eni_id == "eni-1");
  ds.release("sb-3");

  CHECK_THROWS_AS(ds.remove_eni("eni-0"), Error);  // primary
  CHECK_THROWS_AS(ds.remove_eni("eni-1"), Error);  // in use
  CHECK_THROWS_AS(ds.remove_eni("eni-404"), Error);

  auto taken = ds.take_free_ips(100);
  std::set<IpAddress, IpLess> taken_ips;
  for (const auto& [eni, ips] : taken) taken_ips.insert(ips.begin(), ips.end());
  REQUIRE(taken.size() == 2);
  CHECK(taken[0].first == "eni-2");  // highest device first
  CHECK(taken[0].second.size() == 2);
  CHECK(taken[1].first == "eni-1");
  CHECK(taken[1].second.size() == 1);
  CHECK_FALSE(taken_ips.count(on_eni1.ip));
  CHECK_FALSE(taken_ips.count(cooling.ip));
  PoolStats s = ds.stats();
  CHECK(s.total == 4);
  CHECK(s.assigned == 3);
  CHECK(s.cooling == 1);

  EniInfo removed = ds.remove_eni("eni-2");  // now empty
  CHECK(removed.secondary_ips.empty());
  CHECK(ds.stats().enis == 2);

  // Once its pod is gone and the cooldown is over, eni-1 can go.
  ds.release("sb-2");
  CHECK_THROWS_AS(ds.remove_eni("eni-1"), Error);
  clock.advance(std::chrono::seconds(30));
  EniInfo eni1 = ds.remove_eni("eni-1");
  CHECK(eni1.secondary_ips.size() == 2);
  CHECK(ds.stats().total == 2);
}

TEST_CASE("reconcile follows the provider but keeps IPs in use") {
  ManualClock clock;
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  ds.add_eni(make_eni(0, 3));
  ds.add_eni(make_eni(1, 2));
  Allocation held = ds.allocate("sb-1", "ns", "p");                // 10.0.0.2 on eni-0
  ds.allocate("sb-2", "ns", "p");                                   // 10.0.0.3
  ds.allocate("sb-3", "ns", "p");                                   // 10.0.0.4
  Allocation on_eni1 = ds.allocate("sb-4", "ns", "p");              // 10.0.1.2
  ds.release("sb-3");                                               // cooling

  // The provider lost 10.0.0.2 (held) and 10.0.0.4 (cooling), lists a new 10.0.0.9, and
  // no longer lists eni-1 (which holds sb-4's IP); eni-7 is new.
  EniInfo eni0 = make_eni(0, 0);
  eni0.secondary_ips = {ip("10.0.0.3"), ip("10.0.0.9")};
  EniInfo eni7 = make_eni(7, 2);
  ReconcileReport r = ds.reconcile({eni0, eni7});
  CHECK(r.added_enis == 1);
  CHECK(r.added_ips == 3);
  CHECK(r.removed_ips == 2);  // 10.0.0.4 (cooling) and eni-1's free 10.0.1.3
  CHECK(r.removed_enis == 0);
  REQUIRE(r.kept_missing.size() == 2);
  CHECK(ds.lookup("sb-1")->ip == held.ip);
  CHECK(ds.lookup("sb-4")->ip == on_eni1.ip);
  PoolStats s = ds.stats();
  CHECK(s.enis == 3);
  CHECK(s.cooling == 0);
  CHECK(s.total == 6);  // 10.0.0.2 .3 .9, 10.0.1.2, 10.0.7.2 .3

  // Once the pod on eni-1 is gone, the next reconcile drops the ENI.
  ds.release("sb-4");
  r = ds.reconcile({eni0, eni7});
  CHECK(r.removed_enis == 1);
  CHECK(ds.stats().enis == 2);
}

TEST_CASE("reconcile gives an ENI restored without a MAC (old checkpoint) the provider's MAC") {
  Datastore ds;
  ds.add_eni(make_eni(1, 1));
  EniInfo listed = make_eni(1, 1);
  listed.mac = "0a:00:00:00:00:07";
  ds.reconcile({listed});
  REQUIRE(ds.snapshot().enis.size() == 1);
  CHECK(ds.snapshot().enis[0].mac == "0a:00:00:00:00:07");
}

TEST_CASE("allocate and release take effect only once recorded") {
  ManualClock clock;
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  ds.add_eni(make_eni(0, 2));
  bool fail = false;
  int writes = 0;
  ds.set_persist([&](const DatastoreState&, PersistCause) {
    if (fail) throw Error(Errc::resource_exhausted, "write /var/lib/vpcri/ipam.json: No space left on device");
    ++writes;
  });
  Allocation a = ds.allocate("sb-1", "ns", "p");
  CHECK(writes == 1);

  fail = true;
  try {
    ds.allocate("sb-2", "ns", "p");
    FAIL("expected the persist error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::resource_exhausted);
    CHECK(std::string(e.what()).find("No space left") != std::string::npos);
  }
  CHECK_FALSE(ds.lookup("sb-2"));
  CHECK(ds.stats().assigned == 1);

  CHECK_THROWS_AS(ds.release("sb-1"), Error);
  REQUIRE(ds.lookup("sb-1"));
  CHECK(ds.lookup("sb-1")->ip == a.ip);
  CHECK(ds.stats().cooling == 0);
  CHECK(ds.drain_flush_requests().empty());

  fail = false;
  Allocation b = ds.allocate("sb-2", "ns", "p");
  CHECK(b.ip != a.ip);
  CHECK_FALSE(b.reused);  // the failed attempt did not count as a use
  CHECK(ds.release("sb-1"));
  CHECK(ds.stats().cooling == 1);
}

TEST_CASE("allocations are written without the datastore lock; concurrent ones share one write, newest state last") {
  Datastore ds;
  ds.add_eni(make_eni(0, 3));
  std::mutex mu;
  std::condition_variable cv;
  bool first_may_finish = false;
  std::vector<size_t> allocations_per_write;
  ds.set_persist([&](const DatastoreState& state, PersistCause) {
    std::unique_lock lock(mu);
    allocations_per_write.push_back(state.allocations.size());
    cv.notify_all();
    if (allocations_per_write.size() == 1) cv.wait(lock, [&] { return first_may_finish; });
  });
  std::thread first([&] { ds.allocate("sb-a", "default", "a"); });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return !allocations_per_write.empty(); });
  }
  // The first write is in progress: the datastore still answers, and two more pods allocate.
  CHECK(ds.stats().assigned == 1);
  std::thread second([&] { ds.allocate("sb-b", "default", "b"); });
  std::thread third([&] { ds.allocate("sb-c", "default", "c"); });
  while (ds.stats().assigned < 3) std::this_thread::yield();
  {
    std::lock_guard lock(mu);
    first_may_finish = true;
  }
  cv.notify_all();
  first.join();
  second.join();
  third.join();
  // One write for the first pod, one that carries both later ones (the other had nothing to add).
  CHECK(allocations_per_write == std::vector<size_t>{1, 3});
  CHECK(ds.snapshot().allocations.size() == 3);
}

TEST_CASE("each write says whether it changes the inventory; an inventory write that failed makes the next write one") {
  Datastore ds;
  bool fail = false;
  std::vector<PersistCause> causes;
  ds.set_persist([&](const DatastoreState&, PersistCause cause) {
    if (fail) throw Error(Errc::resource_exhausted, "write /var/lib/vpcri/ipam.json: No space left on device");
    causes.push_back(cause);
  });
  ds.add_eni(make_eni(0, 3));  // logged, not thrown: the provider made the ENI already
  ds.allocate("sb-1", "ns", "p");
  ds.release("sb-1");
  CHECK(causes == std::vector<PersistCause>{PersistCause::inventory, PersistCause::allocation, PersistCause::release});

  // checkpoint::save syncs allocation and release writes less (not the directory): an inventory
  // change that was never written must not ride on one of those.
  causes.clear();
  fail = true;
  ds.add_eni(make_eni(1, 2));
  fail = false;
  ds.allocate("sb-2", "ns", "p");
  ds.allocate("sb-3", "ns", "p");
  CHECK(causes == std::vector<PersistCause>{PersistCause::inventory, PersistCause::allocation});
}

#include "net/ipam/warm_pool.h"

#include <doctest/doctest.h>

#include "common/error.h"
#include "net/ipam/fake_provider_test.h"
#include "net/ipam/pool_test_support.h"

using namespace vpcri::net::ipam;
using vpcri::net::ipam::testing::FakeProvider;
using vpcri::net::ipam::testing::manual_pool_config;
using vpcri::net::ipam::testing::no_free_ip_reason;
using vpcri::Error;
using vpcri::net::Cidr;
using std::chrono::seconds;

namespace {

LocalProviderConfig node_config(int max_enis = 3, int ips_per_eni = 10) {
  LocalProviderConfig c;
  c.node_range = *Cidr::parse("10.30.0.0/24");
  c.max_enis = max_enis;
  c.ips_per_eni = ips_per_eni;
  return c;
}

// A node: fake provider, datastore and pool manager on one manual clock.
struct Node {
  ManualClock clock;
  FakeProvider provider;
  Datastore datastore;
  WarmPool pool;
  int next_pod = 0;

  explicit Node(WarmTargets targets = {}, LocalProviderConfig config = node_config(), int max_pods = 0,
                EniObserver* observer = nullptr)
      : provider(config),
        datastore(Datastore::Options{seconds(30), clock.clock()}),
        pool(provider, datastore, pool_config(targets, max_pods, observer)) {}

  WarmPoolConfig pool_config(WarmTargets targets, int max_pods, EniObserver* observer) {
    WarmPoolConfig c = manual_pool_config(targets, clock, max_pods);
    c.eni_observer = observer;
    return c;
  }
  std::string add_pod() { return testing::add_pod(datastore, next_pod); }
  std::string exhaustion() { return no_free_ip_reason(datastore); }
  PoolStats stats() { return datastore.stats(); }
};

}  // namespace

TEST_CASE("WARM_ENI_TARGET=1: the primary ENI fills up, then a whole ENI is kept warm") {
  Node node;
  CHECK_FALSE(node.pool.ready());
  node.pool.run_once();
  CHECK(node.pool.ready());
  PoolStats s = node.stats();
  CHECK(s.enis == 1);
  CHECK(s.total == 9);  // 10 per ENI minus the primary IP
  CHECK(node.provider.calls("assign_ips") == 1);

  node.pool.run_once();  // at target: no provider call
  CHECK(node.provider.calls("assign_ips") == 1);
  CHECK(node.provider.calls("create_eni") == 0);

  node.add_pod();  // 8 available < 9
  node.pool.run_once();
  s = node.stats();
  CHECK(s.enis == 2);
  CHECK(s.total == 18);
  CHECK(node.provider.calls("create_eni") == 1);

  // Fill up: the third ENI comes, then the limit.
  for (int i = 0; i < 9; ++i) node.add_pod();
  node.pool.run_once();
  CHECK(node.stats().enis == 3);
  CHECK(node.stats().total == 27);
  for (int i = 0; i < 17; ++i) node.add_pod();
  node.pool.run_once();
  CHECK(node.stats().enis == 3);
  CHECK(node.provider.calls("create_eni") == 2);
  CHECK(node.exhaustion().find("27 of 27 in use, ENI limit 3 reached") != std::string::npos);
}

TEST_CASE("WARM_IP_TARGET and MINIMUM_IP_TARGET: grow by the shortfall, give back the excess down to the floor") {
  Node node(WarmTargets{1, 3, 5});
  node.pool.run_once();
  CHECK(node.stats().total == 5);  // the minimum dominates
  std::vector<std::string> pods;
  for (int i = 0; i < 4; ++i) pods.push_back(node.add_pod());
  node.pool.run_once();
  CHECK(node.stats().total == 7);  // 4 in use + 3 warm

  for (const auto& p : pods) node.datastore.release(p);
  node.pool.run_once();
  CHECK(node.stats().total == 5);  // over = min(7 - 3, 7 - 5) = 2: the floor stays
  CHECK(node.provider.calls("unassign_ips") == 1);
  node.clock.advance(seconds(60));
  node.pool.run_once();
  CHECK(node.stats().total == 5);
  CHECK(node.provider.calls("unassign_ips") == 1);
  // The provider and the datastore agree on what is left.
  int provider_ips = 0;
  for (const auto& eni : node.provider.local().list_enis()) provider_ips += static_cast<int>(eni.secondary_ips.size());
  CHECK(provider_ips == 5);
}

TEST_CASE("excess IPs go back only when free (not cooling down), at most once per shrink interval") {
  Node node(WarmTargets{1, 1, 0});
  node.pool.run_once();
  CHECK(node.stats().total == 1);
  std::vector<std::string> pods;
  for (int i = 0; i < 3; ++i) {
    pods.push_back(node.add_pod());
    node.pool.run_once();
  }
  CHECK(node.stats().total == 4);
  for (const auto& p : pods) node.datastore.release(p);
  node.pool.run_once();  // over 3, but only the warm IP is free: the released ones cool down
  CHECK(node.stats().total == 3);
  CHECK(node.stats().cooling == 3);
  CHECK(node.provider.calls("unassign_ips") == 1);

  node.clock.advance(seconds(30));
  node.pool.run_once();
  CHECK(node.stats().total == 1);
  CHECK(node.provider.calls("unassign_ips") == 2);

  // New excess right after a shrink waits for the shrink interval.
  pods.clear();
  for (int i = 0; i < 5; ++i) {
    pods.push_back(node.add_pod());
    node.pool.run_once();
  }
  CHECK(node.stats().total == 6);
  for (const auto& p : pods) node.datastore.release(p);
  node.clock.advance(seconds(29));
  node.pool.run_once();
  CHECK(node.stats().total == 6);  // one free IP could go, but the last shrink was 29 s ago
  CHECK(node.provider.calls("unassign_ips") == 2);
  node.clock.advance(seconds(1));
  node.pool.run_once();
  CHECK(node.stats().total == 1);
  CHECK(node.provider.calls("unassign_ips") == 3);
}

TEST_CASE("an unused ENI is freed only after its minimum lifetime; an ENI in use never") {
  Node node;
  node.pool.run_once();
  std::vector<std::string> pods;
  for (int i = 0; i < 10; ++i) {
    pods.push_back(node.add_pod());
    node.pool.run_once();
  }
  // 10 pods: eni-0 full, one pod on eni-1, eni-2 attached to stay one ENI ahead.
  REQUIRE(node.stats().enis == 3);
  CHECK(node.datastore.lookup(pods[9])->eni_id == "eni-local-1");

  for (int i = 0; i < 9; ++i) node.datastore.release(pods[static_cast<size_t>(i)]);
  node.clock.advance(seconds(30));  // cooldowns over, eni-2 is 30 s old
  node.pool.run_once();
  CHECK(node.stats().enis == 3);  // too young
  CHECK(node.provider.calls("delete_eni") == 0);

  node.clock.advance(seconds(30));
  node.pool.run_once();
  CHECK(node.stats().enis == 2);  // eni-2 freed
  CHECK(node.provider.calls("delete_eni") == 1);

  // eni-1 holds a pod: however long we wait, it stays.
  for (int i = 0; i < 5; ++i) {
    node.clock.advance(seconds(60));
    node.pool.run_once();
  }
  CHECK(node.stats().enis == 2);
  CHECK(node.datastore.lookup(pods[9]));
  CHECK(node.provider.calls("delete_eni") == 1);

  // Without it, eni-1 goes too (available 18 >= 2 ENIs' worth), and the pool settles at one ENI.
  node.datastore.release(pods[9]);
  node.clock.advance(seconds(30));
  node.pool.run_once();
  CHECK(node.stats().enis == 1);
  CHECK(node.stats().total == 9);
  node.clock.advance(seconds(60));
  node.pool.run_once();
  CHECK(node.stats().enis == 1);
  CHECK(node.provider.local().list_enis().size() == 1);
}

// Records each call with what the provider and the datastore had done by then.
struct RecordingObserver : EniObserver {
  struct Call {
    std::vector<std::string> enis;
    int ips_on_newest = 0;  // IPs the datastore held for the highest device number
    int deletes = 0;        // provider delete_eni calls made before this call
  };
  Node* node = nullptr;
  std::vector<Call> calls;
  bool fail = false;
  void enis_changed(const std::vector<EniInfo>& enis) override {
    Call call;
    for (const auto& e : enis) call.enis.push_back(e.id);
    auto stats = node->datastore.eni_stats();
    call.ips_on_newest = stats.empty() ? 0 : stats.back().ips;
    call.deletes = node->provider.calls("delete_eni");
    calls.push_back(call);
    if (fail) throw vpcri::Error(vpcri::Errc::internal, "observer failing on purpose");
  }
};

TEST_CASE("the ENI observer hears of a new ENI before it has IPs, and of a freed one before it is deleted") {
  RecordingObserver observer;
  Node node({}, node_config(), 0, &observer);
  observer.node = &node;
  node.pool.run_once();
  REQUIRE_FALSE(observer.calls.empty());
  CHECK(observer.calls.back().enis == std::vector<std::string>{"eni-local-0"});

  observer.calls.clear();
  std::string pod = node.add_pod();
  node.pool.run_once();  // a second ENI is attached
  REQUIRE(node.stats().enis == 2);
  REQUIRE(observer.calls.size() == 1);
  CHECK(observer.calls[0].enis == std::vector<std::string>{"eni-local-0", "eni-local-1"});
  CHECK(observer.calls[0].ips_on_newest == 0);  // its IPs come after its interface is wired

  observer.calls.clear();
  node.datastore.release(pod);
  node.clock.advance(seconds(61));
  node.pool.run_once();  // the spare ENI is freed
  REQUIRE(node.stats().enis == 1);
  REQUIRE(observer.calls.size() == 2);  // the reconcile (nothing changed), then the removal
  CHECK(observer.calls[0].enis.size() == 2);
  CHECK(observer.calls[1].enis == std::vector<std::string>{"eni-local-0"});
  CHECK(observer.calls[1].deletes == 0);  // told before the provider detaches it
  CHECK(node.provider.calls("delete_eni") == 1);

  // A failing observer does not stop the pool.
  observer.fail = true;
  node.add_pod();
  node.pool.run_once();
  CHECK(node.stats().enis == 2);
  CHECK(node.stats().total == 18);
}

TEST_CASE("throttling backs off exponentially and is reset by a success") {
  Node node;
  node.provider.fail_next("assign_ips", ProviderErrc::throttled, 3);
  node.pool.run_once();
  CHECK(node.provider.calls("assign_ips") == 1);
  CHECK(node.pool.ready() == false);  // described, but no IP yet
  CHECK(node.pool.status().message.find("throttled") != std::string::npos);
  std::string msg = node.exhaustion();
  CHECK(msg.find("adding addresses failed: injected throttled on assign_ips (next attempt in 1 s)") != std::string::npos);

  node.pool.run_once();  // still backing off: no call
  CHECK(node.provider.calls("assign_ips") == 1);
  node.clock.advance(seconds(1));
  node.pool.run_once();  // second failure: 2 s
  CHECK(node.provider.calls("assign_ips") == 2);
  node.clock.advance(seconds(1));
  node.pool.run_once();
  CHECK(node.provider.calls("assign_ips") == 2);
  node.clock.advance(seconds(1));
  node.pool.run_once();  // third failure: 4 s
  CHECK(node.provider.calls("assign_ips") == 3);
  node.clock.advance(seconds(3));
  node.pool.run_once();
  CHECK(node.provider.calls("assign_ips") == 3);
  node.clock.advance(seconds(1));
  node.pool.run_once();  // succeeds
  CHECK(node.provider.calls("assign_ips") == 4);
  CHECK(node.stats().total == 9);
  CHECK(node.pool.ready());
  CHECK(node.pool.status().message.empty());
  CHECK(node.pool.status().provider_errors == 3);

  // The backoff starts over after a success.
  node.add_pod();
  node.provider.fail_next("create_eni", ProviderErrc::throttled);
  node.pool.run_once();
  CHECK(node.provider.calls("create_eni") == 1);
  node.clock.advance(seconds(1));
  node.pool.run_once();
  CHECK(node.provider.calls("create_eni") == 2);
  CHECK(node.stats().enis == 2);
}

TEST_CASE("insufficient addresses in the subnet pause growth for 120 s") {
  Node node;
  node.pool.run_once();
  for (int i = 0; i < 9; ++i) node.add_pod();
  node.provider.fail_next("create_eni", ProviderErrc::insufficient_addresses);
  node.pool.run_once();
  CHECK(node.provider.calls("create_eni") == 1);
  std::string msg = node.exhaustion();
  CHECK(msg.find("subnet subnet-local has no free addresses (next attempt in 120 s)") != std::string::npos);

  node.clock.advance(seconds(60));
  node.pool.run_once();
  CHECK(node.provider.calls("create_eni") == 1);  // paused; other work (reconcile) goes on
  CHECK(node.provider.calls("list_enis") == 2);
  CHECK(node.exhaustion().find("next attempt in 60 s") != std::string::npos);

  node.clock.advance(seconds(60));
  node.pool.run_once();
  CHECK(node.provider.calls("create_eni") == 2);
  CHECK(node.stats().total == 18);
  CHECK(node.exhaustion().empty());
}

TEST_CASE("the provider refusing another ENI stops attaching until the next reconcile") {
  Node node;
  node.pool.run_once();
  for (int i = 0; i < 9; ++i) node.add_pod();
  node.provider.fail_next("create_eni", ProviderErrc::eni_limit_reached);
  node.pool.run_once();
  CHECK(node.provider.calls("create_eni") == 1);
  node.clock.advance(seconds(5));
  node.pool.run_once();
  CHECK(node.provider.calls("create_eni") == 1);
  node.clock.advance(seconds(60));
  node.pool.run_once();
  CHECK(node.provider.calls("create_eni") == 2);
  CHECK(node.stats().enis == 2);
}

TEST_CASE("a node that cannot be described is not ready and says why") {
  Node node;
  node.provider.fail_next("describe_node", ProviderErrc::other);
  node.pool.run_once();
  CHECK_FALSE(node.pool.ready());
  WarmPoolStatus st = node.pool.status();
  CHECK(st.message.find("failed to describe the node: injected error on describe_node") != std::string::npos);
  CHECK_FALSE(st.node.has_value());
  node.clock.advance(seconds(1));
  node.pool.run_once();
  CHECK(node.pool.ready());
  REQUIRE(node.pool.status().node.has_value());
  CHECK(node.pool.status().node->primary_eni_id == "eni-local-0");
}

TEST_CASE("a failed unassign or ENI delete keeps the addresses in the pool") {
  Node node(WarmTargets{1, 1, 0});
  node.pool.run_once();
  std::vector<std::string> pods;
  for (int i = 0; i < 3; ++i) {
    pods.push_back(node.add_pod());
    node.pool.run_once();
  }
  REQUIRE(node.stats().total == 4);
  for (const auto& p : pods) node.datastore.release(p);
  node.clock.advance(seconds(30));
  node.provider.fail_next("unassign_ips", ProviderErrc::other);
  node.pool.run_once();
  CHECK(node.provider.calls("unassign_ips") == 1);
  CHECK(node.stats().total == 4);  // back in the pool, still usable
  node.clock.advance(seconds(1));
  node.pool.run_once();
  CHECK(node.provider.calls("unassign_ips") == 2);
  CHECK(node.stats().total == 1);
}

TEST_CASE("max pods caps the pool") {
  Node node(WarmTargets{}, node_config(), 5);
  node.pool.run_once();
  CHECK(node.stats().total == 5);
  for (int i = 0; i < 5; ++i) node.add_pod();
  node.pool.run_once();
  CHECK(node.stats().total == 5);
  CHECK(node.provider.calls("create_eni") == 0);
}

TEST_CASE("reconcile drops addresses the provider no longer has") {
  Node node;
  node.pool.run_once();
  auto ips = node.provider.local().list_enis()[0].secondary_ips;
  node.provider.local().unassign_ips("eni-local-0", {ips.back()});  // someone else took it away
  node.pool.run_once();
  CHECK(node.stats().total == 9);  // not yet: reconcile every 60 s
  node.clock.advance(seconds(60));
  node.pool.run_once();
  // Reconciled to 8, then grown back to one ENI's worth.
  CHECK(node.provider.calls("list_enis") == 2);
  CHECK(node.stats().total == 9);
  CHECK(node.provider.calls("assign_ips") == 2);
}

TEST_CASE("the worker thread stocks the pool and stops cleanly") {
  FakeProvider provider(node_config());
  Datastore datastore;
  WarmPool pool(provider, datastore, WarmPoolConfig{});
  pool.start();
  CHECK(pool.wait_ready(std::chrono::seconds(30)));
  pool.stop();
  CHECK(datastore.stats().total == 9);
  pool.stop();  // idempotent
}

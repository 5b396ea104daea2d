#include "net/ipam/checkpoint.h"

#include <dirent.h>
#include <sys/stat.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "common/error.h"
#include "common/fs.h"
#include "net/ipam/ipam.h"
#include "net/ipam/local_provider.h"

using namespace vpcri::net::ipam;
using vpcri::Errc;
using vpcri::Error;
using vpcri::net::Cidr;
using vpcri::net::IpAddress;

namespace {

// A private temp directory, removed with everything in it even when a check fails.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/vpcri-ipam-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return path + "/" + name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path)) out.push_back(e.path().filename().string());
    return out;
  }
};

LocalProviderConfig local_config() {
  LocalProviderConfig c;
  c.node_range = *Cidr::parse("10.20.0.0/24");
  return c;
}

// A datastore stocked like a node: the local carve, primary ENI with 9 IPs, one secondary ENI with 9.
void stock(Datastore& ds, LocalProvider& provider) {
  provider.assign_ips("eni-local-0", 9);
  EniInfo eni1 = provider.create_eni();
  provider.assign_ips(eni1.id, 9);
  for (const EniInfo& eni : provider.list_enis()) ds.add_eni(eni);
}

std::string damaged_message(const std::string& text) {
  try {
    checkpoint::decode(text, "/var/lib/vpcri/ipam.json");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::failed_precondition);
    std::string msg = e.what();
    CHECK(msg.find("/var/lib/vpcri/ipam.json is damaged") != std::string::npos);
    return msg;
  }
  FAIL("decode accepted a damaged checkpoint: ", text);
  return "";
}

const char* kValid = R"({"kind":"vpcri-ipam-checkpoint","version":1,
  "enis":[{"id":"eni-a","device_number":0,"subnet_id":"subnet-1","subnet_cidr":"10.0.0.0/24",
           "primary_ip":"10.0.0.1","ips":["10.0.0.2","10.0.0.3"]},
          {"id":"eni-b","device_number":1,"subnet_id":"subnet-1","subnet_cidr":"10.0.0.0/24",
           "primary_ip":"10.0.0.11","ips":["10.0.0.12"]}],
  "allocations":[{"sandbox_id":"sb-1","pod_namespace":"ns","pod_name":"p","ip":"10.0.0.2","eni":"eni-a"}],
  "cooling":["10.0.0.12"]})";

}  // namespace

TEST_CASE("checkpoint encodes and decodes the full state") {
  ManualClock clock;
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  LocalProvider provider(local_config());
  stock(ds, provider);
  ds.allocate("sb-1", "default", "web-0");
  ds.allocate("sb-2", "kube-system", "dns-1");
  ds.allocate("sb-3", "default", "web-1");
  ds.release("sb-3");

  DatastoreState state = ds.snapshot();
  DatastoreState back = checkpoint::decode(checkpoint::encode(state), "test");
  CHECK(back.enis == state.enis);
  REQUIRE(back.allocations.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(back.allocations[i].sandbox_id == state.allocations[i].sandbox_id);
    CHECK(back.allocations[i].pod_namespace == state.allocations[i].pod_namespace);
    CHECK(back.allocations[i].pod_name == state.allocations[i].pod_name);
    CHECK(back.allocations[i].ip == state.allocations[i].ip);
    CHECK(back.allocations[i].eni_id == state.allocations[i].eni_id);
  }
  CHECK(back.cooling == state.cooling);
  CHECK(back.cooling.size() == 1);
}

TEST_CASE("checkpoint keeps ENI MACs and still reads files written before ENIs had them") {
  DatastoreState state;
  EniInfo eni;
  eni.id = "eni-0123";
  eni.mac = "0a:1b:2c:3d:4e:5f";
  eni.device_number = 1;
  eni.subnet_id = "subnet-1";
  eni.subnet_cidr = *Cidr::parse("10.0.0.0/24");
  eni.primary_ip = *IpAddress::parse("10.0.0.20");
  eni.secondary_ips = {*IpAddress::parse("10.0.0.21")};
  state.enis = {eni};
  std::string text = checkpoint::encode(state);
  CHECK(text.find("0a:1b:2c:3d:4e:5f") != std::string::npos);
  CHECK(checkpoint::decode(text, "test").enis == state.enis);

  DatastoreState old = checkpoint::decode(kValid, "test");  // no "mac" members
  REQUIRE(old.enis.size() == 2);
  CHECK(old.enis[1].mac.empty());
  CHECK(checkpoint::encode(old).find("\"mac\"") == std::string::npos);
}

TEST_CASE("save writes atomically with mode 0600 and load reads it back; a missing file is a first start") {
  TempDir dir;
  std::string path = dir.file("ipam.json");
  CHECK_FALSE(checkpoint::load(path));
  DatastoreState state = checkpoint::decode(kValid, "test");
  checkpoint::save(path, state);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(dir.entries() == std::vector<std::string>{"ipam.json"});  // no temp file left behind
  auto loaded = checkpoint::load(path);
  REQUIRE(loaded);
  CHECK(loaded->enis == state.enis);
  CHECK(loaded->allocations.size() == 1);

  // A temp file left by a crash in the middle of a write changes nothing.
  vpcri::fs::write_file_atomic(path + ".tmp.1234.5678", "{\"kind\": \"vpcri-ip", 0600);
  loaded = checkpoint::load(path);
  REQUIRE(loaded);
  CHECK(loaded->enis == state.enis);
}

TEST_CASE("a damaged checkpoint is a clear error, never an empty pool") {
  CHECK(damaged_message("").find("not valid JSON") != std::string::npos);
  CHECK(damaged_message(std::string(kValid).substr(0, 120)).find("not valid JSON") != std::string::npos);
  CHECK(damaged_message("[]").find("not a JSON object") != std::string::npos);
  CHECK(damaged_message(R"({"kind":"vpcri-ipam-checkpoint","version":7,"enis":[],"allocations":[],"cooling":[]})")
            .find("version 7 is not supported") != std::string::npos);
  CHECK(damaged_message(R"({"kind":"vpcri-ipam-checkpoint","version":1,"allocations":[],"cooling":[]})")
            .find("no \"enis\"") != std::string::npos);

  auto mutate = [](const std::string& from, const std::string& to) {
    std::string s = kValid;
    auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    return s.replace(pos, from.size(), to);
  };
  CHECK(damaged_message(mutate("\"10.0.0.3\"", "\"10.0.0.300\"")).find("\"10.0.0.300\" is not an IP address") !=
        std::string::npos);
  CHECK(damaged_message(mutate("\"10.0.0.12\"]", "\"10.0.0.3\"]")).find("IP 10.0.0.3 is on both ENI eni-a and ENI eni-b") !=
        std::string::npos);
  CHECK(damaged_message(mutate("\"device_number\":1", "\"device_number\":0")).find("both have device number 0") !=
        std::string::npos);
  CHECK(damaged_message(mutate("\"ip\":\"10.0.0.2\",\"eni\":\"eni-a\"", "\"ip\":\"10.0.0.2\",\"eni\":\"eni-b\""))
            .find("sandbox sb-1 holds IP 10.0.0.2 on ENI eni-b") != std::string::npos);
  CHECK(damaged_message(mutate("\"ip\":\"10.0.0.2\"", "\"ip\":\"10.0.0.1\"")).find("not a secondary IP") !=
        std::string::npos);
  CHECK(damaged_message(mutate("\"cooling\":[\"10.0.0.12\"]", "\"cooling\":[\"10.0.0.2\"]"))
            .find("both cooling down and held") != std::string::npos);
  CHECK(damaged_message(mutate("\"device_number\":0", "\"device_number\":\"0\"")).find("wrong type") !=
        std::string::npos);
  std::string two_on_one_ip = mutate(
      "\"eni\":\"eni-a\"}]",
      "\"eni\":\"eni-a\"},{\"sandbox_id\":\"sb-2\",\"pod_namespace\":\"ns\",\"pod_name\":\"q\",\"ip\":\"10.0.0.2\",\"eni\":\"eni-a\"}]");
  CHECK(damaged_message(two_on_one_ip).find("held by both sandbox sb-1 and sandbox sb-2") != std::string::npos);

  TempDir dir;
  vpcri::fs::write_file_atomic(dir.file("ipam.json"), "garbage", 0600);
  try {
    checkpoint::load(dir.file("ipam.json"));
    FAIL("load accepted garbage");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(dir.file("ipam.json")) != std::string::npos);
  }
}

TEST_CASE("restore keeps live sandboxes' IPs, releases the others into cooldown, loses and duplicates nothing") {
  ManualClock clock;
  Datastore before({std::chrono::seconds(30), clock.clock()});
  LocalProvider provider(local_config());
  stock(before, provider);
  std::map<std::string, IpAddress> ips;
  for (int i = 0; i < 6; ++i) {
    std::string id = "sb-" + std::to_string(i);
    ips[id] = before.allocate(id, "ns", "pod-" + std::to_string(i)).ip;
  }
  before.release("sb-5");  // cooling at the crash
  DatastoreState state = checkpoint::decode(checkpoint::encode(before.snapshot()), "test");

  clock.advance(std::chrono::minutes(5));
  Datastore after({std::chrono::seconds(30), clock.clock()});
  std::set<std::string> live = {"sb-0", "sb-2", "sb-4", "sb-new"};
  checkpoint::RestoreReport report = checkpoint::restore(after, state, live);
  CHECK(report.kept == std::vector<std::string>{"sb-0", "sb-2", "sb-4"});
  CHECK(report.released == std::vector<std::string>{"sb-1", "sb-3"});
  CHECK(report.live_without_allocation == std::vector<std::string>{"sb-new"});

  for (std::string id : {"sb-0", "sb-2", "sb-4"}) {
    auto a = after.lookup(id);
    REQUIRE(a);
    CHECK(a->ip == ips[id]);
  }
  CHECK_FALSE(after.lookup("sb-1"));
  PoolStats s = after.stats();
  CHECK(s.total == 18);
  CHECK(s.assigned == 3);
  CHECK(s.cooling == 3);  // sb-1, sb-3 released now; sb-5's IP cools down again
  auto flushes = after.drain_flush_requests();
  CHECK(flushes.size() == 2);

  // Hand out everything that is free: nothing collides with a kept IP, cooling ones wait.
  std::set<IpAddress, IpLess> seen = {ips["sb-0"], ips["sb-2"], ips["sb-4"]};
  for (int i = 0; i < s.free(); ++i) {
    Allocation a = after.allocate("new-" + std::to_string(i), "ns", "p");
    CHECK(seen.insert(a.ip).second);
    CHECK(a.ip != ips["sb-1"]);
    CHECK(a.ip != ips["sb-3"]);
    CHECK(a.ip != ips["sb-5"]);
  }
  CHECK_THROWS_AS(after.allocate("one-more", "ns", "p"), Error);
  clock.advance(std::chrono::seconds(30));
  for (int i = 0; i < 3; ++i) CHECK(seen.insert(after.allocate("late-" + std::to_string(i), "ns", "p").ip).second);
  CHECK(seen.size() == 18);

  // Restoring into a non-empty datastore is refused.
  CHECK_THROWS_AS(checkpoint::restore(after, state, live), Error);
}

TEST_CASE("a crash between allocate and the checkpoint write restarts into a consistent state") {
  TempDir dir;
  std::string path = dir.file("ipam.json");
  ManualClock clock;
  LocalProvider provider(local_config());
  std::set<std::string> recorded_ips;
  {
    Datastore ds({std::chrono::seconds(30), clock.clock()});
    stock(ds, provider);
    bool crashed = false;
    ds.set_persist([&](const DatastoreState& state, PersistCause) {
      if (crashed) throw std::runtime_error("simulated crash: the process died before the write");
      checkpoint::save(path, state);
    });
    ds.persist_now();
    for (int i = 0; i < 4; ++i) recorded_ips.insert(ds.allocate("sb-" + std::to_string(i), "ns", "p").ip.to_string());
    crashed = true;
    // The runtime created sandbox sb-4 and asked for its IP; the process dies before the
    // checkpoint write. The caller never got an IP.
    CHECK_THROWS(ds.allocate("sb-4", "ns", "p"));
  }  // the process is gone; only the file remains

  // Restart: the runtime still sees sb-0..sb-4 (sb-4 exists, without network), sb-1 was removed.
  LocalProvider restarted(local_config());
  auto state = checkpoint::load(path);
  REQUIRE(state);
  restarted.adopt_enis(state->enis);
  CHECK(restarted.list_enis() == provider.list_enis());
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  auto report = checkpoint::restore(ds, *state, {"sb-0", "sb-2", "sb-3", "sb-4"});
  CHECK(report.kept == std::vector<std::string>{"sb-0", "sb-2", "sb-3"});
  CHECK(report.released == std::vector<std::string>{"sb-1"});
  CHECK(report.live_without_allocation == std::vector<std::string>{"sb-4"});
  CHECK_FALSE(ds.lookup("sb-4"));

  // The retried allocation of sb-4 gets an IP no live sandbox holds.
  Allocation retried = ds.allocate("sb-4", "ns", "p");
  for (std::string id : {"sb-0", "sb-2", "sb-3"}) CHECK(ds.lookup(id)->ip != retried.ip);
  CHECK(ds.lookup("sb-0")->ip.to_string() == *recorded_ips.begin());
  PoolStats s = ds.stats();
  CHECK(s.total == 18);
  CHECK(s.assigned == 4);
  CHECK(s.cooling == 1);
}

TEST_CASE("a crash after the checkpoint write but before the sandbox was finished releases the IP on restart") {
  TempDir dir;
  std::string path = dir.file("ipam.json");
  ManualClock clock;
  IpAddress orphan;
  {
    LocalProvider provider(local_config());
    Datastore ds({std::chrono::seconds(30), clock.clock()});
    stock(ds, provider);
    ds.set_persist([&](const DatastoreState& state, PersistCause) { checkpoint::save(path, state); });
    ds.allocate("sb-0", "ns", "p");
    orphan = ds.allocate("sb-1", "ns", "p").ip;  // recorded; then the runtime dies and sb-1 never comes up
  }
  auto state = checkpoint::load(path);
  REQUIRE(state);
  Datastore ds({std::chrono::seconds(30), clock.clock()});
  auto report = checkpoint::restore(ds, *state, {"sb-0"});
  CHECK(report.released == std::vector<std::string>{"sb-1"});
  CHECK(ds.stats().cooling == 1);
  auto flushes = ds.drain_flush_requests();
  REQUIRE(flushes.size() == 1);
  CHECK(flushes[0].ip == orphan);
}

TEST_CASE("Ipam restores from its checkpoint across restarts with the local provider") {
  TempDir dir;
  ManualClock clock;
  IpamConfig config;
  config.checkpoint_path = dir.file("ipam.json");
  config.pool.clock = clock.clock();
  IpAddress web_ip, db_ip;
  std::vector<EniInfo> enis_before;
  {
    LocalProvider provider(local_config());
    Ipam ipam(provider, config);
    CHECK_THROWS_AS(ipam.start(), Error);  // restore first
    auto report = ipam.restore({});
    CHECK(report.kept.empty());
    CHECK(vpcri::fs::exists(config.checkpoint_path));
    ipam.pool().run_once();
    CHECK(ipam.ready());
    web_ip = ipam.allocate("sb-web", "default", "web").ip;
    db_ip = ipam.allocate("sb-db", "default", "db").ip;
    ipam.allocate("sb-job", "default", "job");
    ipam.pool().run_once();  // 8 available < 9: attaches a second ENI
    enis_before = provider.list_enis();
    CHECK(enis_before.size() == 2);
  }
  {
    LocalProvider provider(local_config());
    Ipam ipam(provider, config);
    auto report = ipam.restore({"sb-web", "sb-db"});
    CHECK(report.released == std::vector<std::string>{"sb-job"});
    CHECK(provider.list_enis() == enis_before);  // the local provider's state came back
    CHECK(ipam.lookup("sb-web")->ip == web_ip);
    CHECK(ipam.lookup("sb-db")->ip == db_ip);
    CHECK_FALSE(ipam.lookup("sb-job"));
    ipam.pool().run_once();
    CHECK(ipam.ready());
    CHECK(ipam.stats().total == 18);  // the reconcile with the provider changed nothing
    // What is on disk now matches memory.
    auto on_disk = checkpoint::load(config.checkpoint_path);
    REQUIRE(on_disk);
    CHECK(on_disk->allocations.size() == 2);
    CHECK(on_disk->cooling.size() == 1);
  }
  {
    // Another node range: the checkpoint does not fit; the caller gets a clear error.
    LocalProviderConfig other = local_config();
    other.node_range = *Cidr::parse("10.99.0.0/24");
    LocalProvider provider(other);
    Ipam ipam(provider, config);
    try {
      ipam.restore({"sb-web"});
      FAIL("restore accepted a checkpoint from another node range");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::failed_precondition);
      CHECK(std::string(e.what()).find("node range 10.99.0.0/24") != std::string::npos);
    }
  }
}

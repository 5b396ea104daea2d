// The pod network facade end to end, inside namespaces made here: a "node" netns running the
// facade, pod netns attached to it, and an "outside" netns behind the node's primary interface
// (a veth up0 <-> out0) holding an in-VPC address (10.50.0.1) and an outside one (203.0.113.10).
// Everything is deleted at the end, also when a check fails.
#include "net/pod_network.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "net/aws/aws_test_world.h"
#include "net/datapath/named_netns.h"
#include "net/datapath/netns.h"
#include "net/datapath/sysctl.h"
#include "net/datapath/test_support.h"

using vpcri::Errc;
using vpcri::Error;
using vpcri::UniqueFd;
using namespace vpcri::net;
namespace t = vpcri::net::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNodeIp = "192.168.50.1";
constexpr const char* kOutsideIp = "192.168.50.2";
constexpr const char* kInVpcIp = "10.50.0.1";          // in 10.0.0.0/8, the VPC CIDR: no SNAT
constexpr const char* kOutsideWorldIp = "203.0.113.10";  // outside: SNAT to the node IP

Cidr cidr(const char* text) { return *Cidr::parse(text); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/vpcri-podnet-XXXXXX";
    if (!::mkdtemp(tmpl)) vpcri::throw_errno("mkdtemp");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

struct Pod {
  std::string id;
  std::string name;
  NamedNetNs ns;
  NetNs handle;
};

struct Bed {
  std::string tag = t::random_tag();
  TempDir state;
  NamedNetNs node = NamedNetNs::create("vpcri-t-" + tag + "-node");
  NamedNetNs outside = NamedNetNs::create("vpcri-t-" + tag + "-out");
  NetNs node_ns = node.open();
  NetNs outside_ns = outside.open();
  std::vector<std::unique_ptr<Pod>> pods;
  std::unique_ptr<PodNetworks> net;  // destroyed first (declared last)

  Bed() {
    auto ip = [](const std::string& ns, std::vector<std::string> args) {
      args.insert(args.begin(), {"ip", "-n", ns});
      t::run_ok(args);
    };
    ip(node.name(), {"link", "set", "lo", "up"});
    ip(outside.name(), {"link", "set", "lo", "up"});
    ip(node.name(), {"link", "add", "up0", "type", "veth", "peer", "name", "out0", "netns", outside.name()});
    ip(node.name(), {"addr", "add", std::string(kNodeIp) + "/24", "dev", "up0"});
    ip(node.name(), {"link", "set", "up0", "up"});
    ip(node.name(), {"route", "add", "default", "via", kOutsideIp});
    ip(outside.name(), {"addr", "add", std::string(kOutsideIp) + "/24", "dev", "out0"});
    ip(outside.name(), {"link", "set", "out0", "up"});
    ip(outside.name(), {"addr", "add", std::string(kInVpcIp) + "/32", "dev", "lo"});
    ip(outside.name(), {"addr", "add", std::string(kOutsideWorldIp) + "/32", "dev", "lo"});
    // The VPC routes pod IPs to the node (as an AWS VPC does for ENI secondary IPs).
    ip(outside.name(), {"route", "add", "10.99.0.0/24", "via", kNodeIp});
  }

  PodNetworkConfig config() const {
    PodNetworkConfig c;
    c.node_range = cidr("10.99.0.0/24");
    c.snat_exclude = {cidr("10.0.0.0/8")};
    c.state_dir = state.path;
    c.cooldown = 30s;
    c.pool_check_interval = 1s;
    c.mtu = 1500;
    return c;
  }

  template <class F>
  auto in_node(F&& fn) {
    return run_in_netns(node_ns, std::forward<F>(fn));
  }

  PodNetworks& start(PodNetworkConfig c, const std::vector<LiveSandbox>& live = {}, RestoreSummary* summary = nullptr,
                     std::unique_ptr<ipam::Provider> provider = nullptr) {
    net.reset();
    net = std::make_unique<PodNetworks>(std::move(c), std::move(provider));
    RestoreSummary s = in_node([&] { return net->restore(live); });
    if (summary) *summary = s;
    REQUIRE(net->wait_ready(10s));
    CHECK(net->ready());
    CHECK(net->not_ready_reason().empty());
    return *net;
  }

  Pod& make_pod(const std::string& name) {
    auto ns = NamedNetNs::create("vpcri-t-" + tag + "-" + name);
    auto handle = ns.open();
    pods.push_back(std::make_unique<Pod>(Pod{"sb-" + name + "-" + tag, name, std::move(ns), std::move(handle)}));
    return *pods.back();
  }

  AttachResult attach(const Pod& pod, std::vector<PortMapping> ports = {}) {
    return in_node([&] { return net->attach({pod.id, "default", pod.name, pod.ns.path(), ports}); });
  }
  void detach(const Pod& pod) {
    in_node([&] { net->detach(pod.id); });
  }

  std::string nft_table() {
    auto r = t::run(t::in_netns(node.name(), {"nft", "list", "table", "ip", "vpcri"}));
    return r.output;
  }
  bool node_has_link(const std::string& name) {
    for (const auto& l : t::ip_json(node.name(), {"link", "show"})) {
      if (l["ifname"] == name) return true;
    }
    return false;
  }
};

bool ping(const std::string& from_netns, const std::string& to) {
  auto r = t::run(t::in_netns(from_netns, {"/bin/busybox", "ping", "-c1", "-W2", to}));
  if (r.exit_code != 0) MESSAGE("ping " << to << " from " << from_netns << " failed: " << r.output);
  return r.exit_code == 0;
}

// Connects from `client` to dst:port while `listener` accepts; returns the peer address the
// server saw, or "" if the connection failed.
std::string peer_seen(const UniqueFd& listener, const NetNs& client, const std::string& dst, uint16_t port) {
  std::string peer;
  std::atomic<bool> client_gave_up{false};
  std::thread server([&] {
    // Waits for the connection, or until the client has given up (a refused or dropped connect
    // leaves nothing to accept: the checks that expect that would otherwise wait out 5 s).
    pollfd p{listener.get(), POLLIN, 0};
    for (int waited_ms = 0; ::poll(&p, 1, 50) != 1; waited_ms += 50) {
      if (client_gave_up || waited_ms >= 5000) return;
    }
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    UniqueFd conn(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC));
    if (!conn) return;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
    peer = text;
  });
  bool connected = t::tcp_connect_from(client, dst, port);
  client_gave_up = !connected;
  server.join();
  if (!connected) {
    MESSAGE("connect to " << dst << ":" << port << " failed");
    return "";
  }
  return peer;
}

Errc code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    MESSAGE("error: " << std::string(e.what()));
    return e.code();
  }
  return Errc::internal;
}

}  // namespace

TEST_CASE("two pods get different IPs, reach each other and the node, TCP keeps the pod IP") {
  Bed bed;
  bed.start(bed.config());
  Pod& a = bed.make_pod("a");
  Pod& b = bed.make_pod("b");
  AttachResult ra = bed.attach(a);
  AttachResult rb = bed.attach(b);
  CHECK(ra.ip != rb.ip);
  CHECK(cidr("10.99.0.0/24").contains(ra.ip));
  CHECK(ra.host_veth == host_veth_name("default", "a"));
  CHECK(bed.node_has_link(ra.host_veth));
  CHECK(bed.net->lookup(a.id)->ip == ra.ip);

  CHECK(ping(a.ns.name(), rb.ip.to_string()));
  CHECK(ping(b.ns.name(), ra.ip.to_string()));
  CHECK(ping(a.ns.name(), kNodeIp));

  UniqueFd listener = t::tcp_listen_in(b.handle, 5050);
  CHECK(peer_seen(listener, a.handle, rb.ip.to_string(), 5050) == ra.ip.to_string());

  auto status = bed.net->status();
  CHECK(status["pool"]["assigned"] == 2);
  CHECK(status["primary_interface"] == "up0");
  CHECK(status["primary_ip"] == kNodeIp);
  CHECK(bed.in_node([] { return read_net_sysctl("ipv4/ip_forward"); }) == "1");
  CHECK(bed.in_node([] { return read_net_sysctl("ipv4/conf/up0/rp_filter"); }) == "2");

  // The node tracked a's connections (its nft table needs conntrack); detach flushes them in
  // the background.
  auto tracked = [&](const IpAddress& ip) {
    return t::run_ok(t::in_netns(bed.node.name(), {"conntrack", "-L"})).find("=" + ip.to_string() + " ") != std::string::npos;
  };
  REQUIRE(ping(b.ns.name(), kNodeIp));  // an entry of b's alone
  REQUIRE(tracked(ra.ip));
  bed.detach(a);
  bed.detach(a);  // idempotent
  bed.in_node([&] { bed.net->detach("never-attached"); });
  for (int i = 0; i < 500 && tracked(ra.ip); ++i) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(tracked(ra.ip));
  CHECK(tracked(rb.ip));  // b's own entries stay
  CHECK_FALSE(bed.node_has_link(ra.host_veth));
  CHECK_FALSE(bed.net->lookup(a.id));
  CHECK(bed.net->status()["pool"]["assigned"] == 1);
}

TEST_CASE("egress SNAT: outside the VPC the node IP, inside it the pod IP; external_snat turns it off") {
  Bed bed;
  bed.start(bed.config());
  Pod& a = bed.make_pod("a");
  AttachResult ra = bed.attach(a);
  UniqueFd listener = t::tcp_listen_in(bed.outside_ns, 7000);
  CHECK(peer_seen(listener, a.handle, kOutsideWorldIp, 7000) == kNodeIp);
  CHECK(peer_seen(listener, a.handle, kInVpcIp, 7000) == ra.ip.to_string());
  CHECK(contains(bed.nft_table(), "snat to 192.168.50.1"));
  bed.detach(a);

  // A new daemon with external SNAT: no SNAT rule, the pod IP goes out as it is.
  PodNetworkConfig c = bed.config();
  c.external_snat = true;
  bed.start(c);
  Pod& b = bed.make_pod("b");
  AttachResult rb = bed.attach(b);
  CHECK_FALSE(contains(bed.nft_table(), "fully-random"));
  CHECK(peer_seen(listener, b.handle, kOutsideWorldIp, 7000) == rb.ip.to_string());
  CHECK(bed.net->status()["snat"]["enabled"] == false);
}

TEST_CASE("with the aws provider a pod's IP is a secondary IP in EC2; the VPC is reached without NAT") {
  // EC2 (fake, with state) puts the node in subnet 10.99.0.0/24, which the outside routes to the node.
  aws::testing::AwsWorld world("t3.medium", 3, 6, "10.99.0.0/24");
  Bed bed;
  PodNetworkConfig c = bed.config();
  c.node_range = Cidr{};
  c.snat_exclude = {};
  c.vpc_cidrs = {cidr("10.0.0.0/8")};
  // The warm pool attaches a second ENI that has no interface here (this test needs none): give up
  // on it at once rather than after the 30 s a real attachment is allowed.
  c.eni_link_wait = 200ms;
  bed.start(c, {}, nullptr, std::make_unique<aws::AwsProvider>(world.ec2, world.imds, world.options()));
  Pod& a = bed.make_pod("a");
  AttachResult ra = bed.attach(a);

  auto primary = world.ec2.find_eni(world.primary_eni);
  REQUIRE(primary);
  bool secondary_in_ec2 = false;
  for (const auto& ip : primary->private_ips) secondary_in_ec2 |= !ip.primary && ip.address == ra.ip;
  CHECK(secondary_in_ec2);
  CHECK(ra.ip != primary->private_ips.front().address);

  UniqueFd listener = t::tcp_listen_in(bed.outside_ns, 7001);
  CHECK(peer_seen(listener, a.handle, kInVpcIp, 7001) == ra.ip.to_string());
  CHECK(peer_seen(listener, a.handle, kOutsideWorldIp, 7001) == kNodeIp);
  CHECK(ping(a.ns.name(), kNodeIp));
  auto status = bed.net->status();
  CHECK(status["provider"] == "aws");
  CHECK(status["vpc_cidrs"] == nlohmann::json::array({"10.0.0.0/8"}));
  bed.detach(a);
}

TEST_CASE("local provider: no ENI link work, pods in the main table; connmark rule 1024 only with SNAT") {
  Bed bed;
  auto rules_at = [&](int priority) {
    int n = 0;
    for (const auto& r : t::ip_json(bed.node.name(), {"rule", "show"})) n += r.value("priority", -1) == priority;
    return n;
  };
  bed.start(bed.config());
  Pod& a = bed.make_pod("a");
  bed.attach(a);
  CHECK(rules_at(512) == 1);
  CHECK(rules_at(1536) == 0);   // no from-pod rule: the local provider's ENIs are virtual
  CHECK(rules_at(32765) == 0);  // no ENI rule
  for (const auto& r : t::ip_json(bed.node.name(), {"route", "show", "table", "all"})) {
    std::string table = r.value("table", "main");
    CHECK_MESSAGE((table == "main" || table == "local"), r.dump());
  }
  CHECK(rules_at(1024) == 1);
  CHECK(contains(bed.nft_table(), "chain connmark"));
  bed.detach(a);

  PodNetworkConfig c = bed.config();
  c.external_snat = true;
  bed.start(c);
  CHECK(rules_at(1024) == 0);
  CHECK_FALSE(contains(bed.nft_table(), "chain connmark"));
}

TEST_CASE("host ports: reachable from outside, the node and the pod itself; removed on detach; conflicts") {
  Bed bed;
  bed.start(bed.config());
  Pod& a = bed.make_pod("a");
  AttachResult ra = bed.attach(a, {PortMapping{PortProtocol::tcp, 80, 18080, ""}});
  UniqueFd listener = t::tcp_listen_in(a.handle, 80);

  CHECK(peer_seen(listener, bed.outside_ns, kNodeIp, 18080) == kOutsideIp);  // prerouting DNAT, no SNAT
  CHECK(peer_seen(listener, bed.node_ns, kNodeIp, 18080) == kNodeIp);        // output DNAT
  CHECK(peer_seen(listener, a.handle, kNodeIp, 18080) == kNodeIp);           // hairpin
  CHECK(peer_seen(listener, bed.node_ns, "127.0.0.1", 18080) == kNodeIp);    // the node's loopback, SNATed
  std::string table = bed.nft_table();
  CHECK(contains(table, "hp-" + a.id));
  CHECK(contains(table, ra.ip.to_string() + ":80"));
  CHECK(bed.net->status()["hostports"].contains(a.id));

  // Another sandbox asking for the same port: already_exists naming the holder; nothing kept.
  Pod& b = bed.make_pod("b");
  try {
    bed.attach(b, {PortMapping{PortProtocol::tcp, 8080, 18080, kNodeIp}});
    FAIL("conflict not detected");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::already_exists);
    CHECK(contains(e.what(), a.id));
  }
  CHECK_FALSE(bed.net->lookup(b.id));
  CHECK_FALSE(bed.node_has_link(host_veth_name("default", "b")));
  CHECK(bed.net->status()["pool"]["assigned"] == 1);

  bed.detach(a);
  table = bed.nft_table();
  CHECK_FALSE(contains(table, "hp-" + a.id));
  CHECK_FALSE(contains(table, ra.ip.to_string()));
  CHECK(contains(table, "table ip vpcri"));
  CHECK(peer_seen(listener, bed.outside_ns, kNodeIp, 18080).empty());
  CHECK(peer_seen(listener, bed.node_ns, "127.0.0.1", 18080).empty());

  // The port is free again.
  AttachResult rb = bed.attach(b, {PortMapping{PortProtocol::tcp, 8080, 18080, kNodeIp}});
  CHECK(contains(bed.nft_table(), rb.ip.to_string() + ":8080"));
}

TEST_CASE("an exhausted pool fails at once with the cause, and leaves nothing behind") {
  Bed bed;
  PodNetworkConfig c = bed.config();
  c.max_enis = 1;
  c.ips_per_eni = 3;  // 2 pod IPs
  bed.start(c);
  bed.attach(bed.make_pod("a"));
  bed.attach(bed.make_pod("b"));
  Pod& x = bed.make_pod("x");
  try {
    bed.attach(x);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::resource_exhausted);
    CHECK(contains(e.what(), "no free IP on this node: 2 of 2 in use"));
  }
  CHECK_FALSE(bed.node_has_link(host_veth_name("default", "x")));
}

TEST_CASE("a failed attach releases the IP") {
  Bed bed;
  bed.start(bed.config());
  Pod& a = bed.make_pod("a");
  CHECK(code_of([&] { bed.in_node([&] { bed.net->attach({a.id, "default", "a", "/nonexistent/netns", {}}); }); }) ==
        Errc::not_found);
  CHECK_FALSE(bed.net->lookup(a.id));
  CHECK(bed.net->status()["pool"]["assigned"] == 0);
}

TEST_CASE("restore after a crash keeps live pods' IPs, removes dead pods' veths, hands nothing out twice") {
  Bed bed;
  bed.start(bed.config());
  Pod& a = bed.make_pod("a");
  Pod& b = bed.make_pod("b");
  AttachResult ra = bed.attach(a, {PortMapping{PortProtocol::tcp, 80, 18080, ""}});
  AttachResult rb = bed.attach(b);
  // A veth left by something vpcri no longer knows (a crash before the checkpoint was written).
  t::run_ok({"ip", "-n", bed.node.name(), "link", "add", "eni0123456789a", "type", "veth", "peer", "name", "strayp"});

  // Crash: the facade goes without detaching; the kernel state stays. B died meanwhile.
  bed.net.reset();
  RestoreSummary summary;
  bed.start(bed.config(), {LiveSandbox{a.id, {PortMapping{PortProtocol::tcp, 80, 18080, ""}}}}, &summary);
  CHECK(summary.kept == std::vector<std::string>{a.id});
  CHECK(summary.released == std::vector<std::string>{b.id});
  CHECK(std::find(summary.deleted_veths.begin(), summary.deleted_veths.end(), "eni0123456789a") !=
        summary.deleted_veths.end());
  CHECK(bed.net->lookup(a.id)->ip == ra.ip);
  CHECK_FALSE(bed.net->lookup(b.id));
  CHECK(bed.node_has_link(ra.host_veth));
  CHECK_FALSE(bed.node_has_link(rb.host_veth));
  CHECK_FALSE(bed.node_has_link("eni0123456789a"));
  CHECK(t::ip_json(bed.node.name(), {"route", "show", rb.ip.to_string()}).empty());
  // A's host port came back from the live list.
  CHECK(contains(bed.nft_table(), "hp-" + a.id));
  CHECK(ping(a.ns.name(), kNodeIp));

  // New pods get neither A's IP nor B's (cooling down).
  Pod& c = bed.make_pod("c");
  AttachResult rc = bed.attach(c);
  CHECK(rc.ip != ra.ip);
  CHECK(rc.ip != rb.ip);
  CHECK(code_of([&] { bed.attach(bed.make_pod("d"), {PortMapping{PortProtocol::tcp, 80, 18080, ""}}); }) ==
        Errc::already_exists);
}

TEST_CASE("a released IP is not reused before its cooldown") {
  Bed bed;
  PodNetworkConfig c = bed.config();
  c.cooldown = 2s;
  bed.start(c);
  Pod& a = bed.make_pod("a");
  AttachResult ra = bed.attach(a);
  bed.detach(a);
  Pod& b = bed.make_pod("b");
  AttachResult rb = bed.attach(b);
  CHECK(rb.ip != ra.ip);
  std::this_thread::sleep_for(2200ms);
  // Traffic for the cooling IP made an entry after its release flush: the reuse must not wait
  // for the background flush, the IP is clean when attach returns.
  t::run_ok(t::in_netns(bed.node.name(), {"conntrack", "-I", "-p", "udp", "-s", "10.0.9.9", "-d", ra.ip.to_string(),
                                          "-r", ra.ip.to_string(), "-q", "10.0.9.9", "--sport", "4242", "--dport", "53",
                                          "--reply-port-src", "53", "--reply-port-dst", "4242", "-t", "120"}));
  Pod& d = bed.make_pod("d");
  AttachResult rd = bed.attach(d);
  CHECK(rd.ip == ra.ip);  // lowest free again once cooled down
  CHECK(t::run_ok(t::in_netns(bed.node.name(), {"conntrack", "-L"})).find("sport=4242") == std::string::npos);
}

// The nftables table: rendering (pure) and applying it inside a test node netns made here.
// Traffic through the rules (SNAT, host ports) is checked end to end in net/pod_network_test.cc.
#include "net/datapath/nat_table.h"

#include <doctest/doctest.h>

#include "common/error.h"
#include "net/datapath/connmark.h"
#include "net/datapath/named_netns.h"
#include "net/datapath/netns.h"
#include "net/datapath/nft.h"
#include "net/datapath/test_support.h"

using vpcri::Errc;
using vpcri::Error;
using namespace vpcri::net;
namespace t = vpcri::net::testing;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
Cidr cidr(const char* text) { return *Cidr::parse(text); }

SnatConfig snat_config() {
  SnatConfig s;
  s.interface = "up0";
  s.node_ip = ip("192.168.50.1");
  s.pod_cidrs = {cidr("10.99.0.0/24")};
  s.excluded = {cidr("10.0.0.0/8"), cidr("172.16.0.0/12")};
  return s;
}

PortMapping tcp(uint16_t host_port, uint16_t container_port, std::string host_ip = "") {
  return PortMapping{PortProtocol::tcp, container_port, host_port, std::move(host_ip)};
}

SandboxHostPorts hp(const char* pod_ip, std::vector<PortMapping> mappings, std::string host_veth = "enitest0") {
  return SandboxHostPorts{ip(pod_ip), std::move(mappings), std::move(host_veth)};
}

struct Node {
  NamedNetNs ns = NamedNetNs::create("vpcri-t-" + t::random_tag() + "-nat");
  NetNs handle = ns.open();
  template <class F>
  auto in(F&& fn) {
    return run_in_netns(handle, std::forward<F>(fn));
  }
  t::CommandResult nft(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"nft"};
    argv.insert(argv.end(), args.begin(), args.end());
    return t::run(t::in_netns(ns.name(), std::move(argv)));
  }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("render: SNAT rule excludes the VPC CIDRs, only on the primary interface") {
  std::string script = render_nat_table(snat_config(), {});
  CHECK(contains(script, "delete table ip vpcri"));
  CHECK(contains(script,
                 "oifname \"up0\" ip saddr { 10.99.0.0/24 } ip daddr != { 10.0.0.0/8, 172.16.0.0/12 } snat to "
                 "192.168.50.1 fully-random"));
  CHECK_FALSE(contains(script, "dnat to"));

  SnatConfig off = snat_config();
  off.enabled = false;
  CHECK_FALSE(contains(render_nat_table(off, {}), "fully-random"));
}

TEST_CASE("render: connmark for traffic from host veths to outside the VPC, only with SNAT and a prefix") {
  SnatConfig config = snat_config();
  config.host_veth_prefix = "eni";
  std::string script = render_nat_table(config, {});
  CHECK(contains(script, "chain connmark-primary {\n    type filter hook prerouting priority mangle"));
  CHECK(contains(script, "chain connmark {\n    type filter hook prerouting priority -90"));
  CHECK(contains(script, "iifname \"eni*\" ct state new ip daddr != { 10.0.0.0/8, 172.16.0.0/12 } ct mark set ct mark or 0x80"));
  CHECK(contains(script, "iifname \"up0\" ct state new fib daddr type local ct mark set ct mark or 0x80"));
  CHECK(contains(script, "iifname \"eni*\" ct mark and 0x80 == 0x80 meta mark set meta mark or 0x80"));

  CHECK_FALSE(contains(render_nat_table(snat_config(), {}), "chain connmark"));  // no prefix
  config.enabled = false;
  CHECK_FALSE(contains(render_nat_table(config, {}), "chain connmark"));  // external SNAT

  config = snat_config();
  config.host_veth_prefix = "en\"i";
  CHECK_THROWS_AS(NatTable{config}, Error);
}

TEST_CASE("render: host ports, one chain per sandbox, hairpin to the node IP") {
  std::map<std::string, SandboxHostPorts> sandboxes;
  sandboxes["aaa"] = hp("10.99.0.5", {tcp(8080, 80), PortMapping{PortProtocol::udp, 53, 5353, "192.168.50.1"}}, "eniaaa");
  std::string script = render_nat_table(snat_config(), sandboxes);
  CHECK(contains(script, "jump hp-aaa"));
  CHECK(contains(script, "chain hp-aaa {"));
  CHECK(contains(script, "tcp dport 8080 dnat to 10.99.0.5:80"));
  CHECK(contains(script, "ip daddr 192.168.50.1 udp dport 5353 dnat to 10.99.0.5:53"));
  CHECK(contains(script, "ip saddr 10.99.0.5 ip daddr 10.99.0.5 snat to 192.168.50.1"));
}

TEST_CASE("render: host ports at 127.0.0.1 from the node, the pod's veth guarded against 127/8") {
  std::map<std::string, SandboxHostPorts> sandboxes;
  sandboxes["aaa"] = hp("10.99.0.5", {tcp(12000, 80)}, "eniaaa");
  std::string script = render_nat_table(snat_config(), sandboxes);
  // The node's own traffic to any local address, loopback included, goes through the host ports.
  CHECK(contains(script, "type nat hook output priority -100; policy accept;\n    fib daddr type local jump hostports\n"));
  CHECK_FALSE(contains(script, "ip daddr != 127.0.0.0/8"));
  // The pod cannot answer 127.0.0.1: the node's loopback source becomes the node IP.
  CHECK(contains(script, "ip saddr 127.0.0.0/8 ip daddr 10.99.0.5 snat to 192.168.50.1"));
  CHECK(contains(script, "type filter hook prerouting priority raw;"));
  CHECK(contains(script, "iifname \"eniaaa\" ip saddr 127.0.0.0/8 drop"));
  CHECK(contains(script, "iifname \"eniaaa\" ip daddr 127.0.0.0/8 drop"));
  // Gone with the sandbox.
  CHECK_FALSE(contains(render_nat_table(snat_config(), {}), "eniaaa"));
  CHECK_FALSE(contains(render_nat_table(snat_config(), {}), "127.0.0.0/8 ip daddr"));

  CHECK(has_host_port({tcp(12000, 80)}));
  CHECK_FALSE(has_host_port({tcp(0, 80)}));
  CHECK_FALSE(has_host_port({}));
}

TEST_CASE("bad configs and mappings are refused") {
  SnatConfig bad = snat_config();
  bad.interface = "";
  CHECK_THROWS_AS(NatTable{bad}, Error);
  bad = snat_config();
  bad.excluded.push_back(cidr("fd00::/8"));
  CHECK_THROWS_AS(NatTable{bad}, Error);
  SnatConfig off;
  off.enabled = false;  // nothing else needed without SNAT
  CHECK_NOTHROW(NatTable{off});

  NatTable table(snat_config());
  auto code_of = [&](const std::string& id, SandboxHostPorts ports) {
    try {
      table.add_sandbox(id, std::move(ports));
    } catch (const Error& e) {
      return e.code();
    }
    return Errc::internal;
  };
  // All refused before any nft call, so this runs without a namespace.
  CHECK(code_of("bad id!", hp("10.99.0.5", {tcp(80, 80)})) == Errc::invalid_argument);
  CHECK(code_of("a", hp("10.99.0.5", {tcp(80, 0)})) == Errc::invalid_argument);
  CHECK(code_of("a", hp("10.99.0.5", {tcp(80, 80, "nope")})) == Errc::invalid_argument);
  CHECK(code_of("a", hp("10.99.0.5", {tcp(80, 80, "fd00::1")})) == Errc::invalid_argument);
  CHECK(code_of("a", hp("10.99.0.5", {tcp(80, 80), tcp(80, 81, "10.0.0.1")})) == Errc::invalid_argument);
  CHECK(code_of("a", hp("10.99.0.5", {tcp(80, 80)}, "")) == Errc::invalid_argument);
  CHECK(code_of("a", hp("10.99.0.5", {tcp(80, 80)}, "eni\" drop")) == Errc::invalid_argument);
  CHECK(table.sandboxes().empty());
}

TEST_CASE("applied in a node netns: created, replaced, per-sandbox chains, conflicts, other tables untouched") {
  Node node;
  // Someone else's table in the same netns: vpcri must never touch it.
  t::run_ok(t::in_netns(node.ns.name(), {"nft", "add table inet someone_else"}));
  t::run_ok(t::in_netns(node.ns.name(), {"nft", "add chain inet someone_else keep"}));

  NatTable table(snat_config());
  node.in([&] { table.apply(); });
  node.in([&] { table.apply(); });  // idempotent
  auto listed = node.nft({"list", "table", "ip", "vpcri"});
  REQUIRE(listed.exit_code == 0);
  CHECK(contains(listed.output, "snat to 192.168.50.1"));
  CHECK(contains(listed.output, "hook prerouting"));

  node.in([&] { table.add_sandbox("sb1", hp("10.99.0.5", {tcp(8080, 80)})); });
  node.in([&] { table.add_sandbox("sb2", hp("10.99.0.6", {tcp(8081, 80, "192.168.50.1"), tcp(0, 99)})); });
  listed = node.nft({"list", "table", "ip", "vpcri"});
  CHECK(contains(listed.output, "chain hp-sb1"));
  CHECK(contains(listed.output, "dnat to 10.99.0.5:80"));
  CHECK(contains(listed.output, "dnat to 10.99.0.6:80"));
  CHECK(contains(listed.output, "iifname \"enitest0\" ip daddr 127.0.0.0/8 drop"));
  CHECK(contains(listed.output, "ip saddr 127.0.0.0/8 ip daddr 10.99.0.5 snat to 192.168.50.1"));
  CHECK(table.sandboxes().at("sb2").mappings.size() == 1);  // host_port 0 dropped

  // Same port and protocol on a wildcard or the same address: taken, the holder is named.
  try {
    node.in([&] { table.add_sandbox("sb3", hp("10.99.0.7", {tcp(8080, 90, "192.168.50.1")})); });
    FAIL("conflict not detected");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::already_exists);
    CHECK(contains(e.what(), "sb1"));
    CHECK(contains(e.what(), "tcp 192.168.50.1:8080"));
  }
  CHECK_THROWS_AS(node.in([&] { table.add_sandbox("sb3", hp("10.99.0.7", {tcp(8081, 90)})); }), Error);
  // Another protocol on the same port is fine.
  node.in([&] { table.add_sandbox("sb3", hp("10.99.0.7", {PortMapping{PortProtocol::udp, 90, 8080, ""}})); });
  CHECK(contains(node.nft({"list", "table", "ip", "vpcri"}).output, "10.99.0.7:90"));

  CHECK(node.in([&] { return table.remove_sandbox("sb1"); }));
  CHECK_FALSE(node.in([&] { return table.remove_sandbox("sb1"); }));
  listed = node.nft({"list", "table", "ip", "vpcri"});
  CHECK_FALSE(contains(listed.output, "hp-sb1"));
  CHECK_FALSE(contains(listed.output, "10.99.0.5"));
  CHECK(contains(listed.output, "hp-sb2"));

  // With the host veth prefix: the connmark chain is loaded too.
  SnatConfig marked = snat_config();
  marked.host_veth_prefix = "eni";
  node.in([&] { table.set_snat(marked); });
  listed = node.nft({"list", "table", "ip", "vpcri"});
  CHECK(contains(listed.output, "chain connmark"));
  CHECK(contains(listed.output, "iifname \"eni*\" ct mark & 0x00000080 == 0x00000080 meta mark set meta mark | 0x00000080"));

  // external_snat: the SNAT rule goes, host ports stay.
  SnatConfig off = marked;
  off.enabled = false;
  node.in([&] { table.set_snat(off); });
  listed = node.nft({"list", "table", "ip", "vpcri"});
  CHECK_FALSE(contains(listed.output, "fully-random"));
  CHECK_FALSE(contains(listed.output, "connmark"));
  CHECK(contains(listed.output, "hp-sb2"));

  // Reconcile after a restart: exactly the live set, conflicts skipped.
  NatTable fresh(snat_config());
  std::map<std::string, SandboxHostPorts> live;
  live["x1"] = hp("10.99.0.8", {tcp(9000, 80)});
  live["x2"] = hp("10.99.0.9", {tcp(9000, 80)});
  auto skipped = node.in([&] { return fresh.reconcile(live); });
  CHECK(skipped == std::vector<std::string>{"x2"});
  listed = node.nft({"list", "table", "ip", "vpcri"});
  CHECK(contains(listed.output, "hp-x1"));
  CHECK_FALSE(contains(listed.output, "hp-sb2"));

  node.in([] { NatTable::remove_table(); });
  node.in([] { NatTable::remove_table(); });  // idempotent
  CHECK(node.nft({"list", "table", "ip", "vpcri"}).exit_code != 0);
  CHECK(node.nft({"list", "table", "inet", "someone_else"}).exit_code == 0);
}

TEST_CASE("connmark rule: fwmark 0x80/0x80 lookup main at 1024, added once, removed") {
  Node node;
  auto connmark_rules = [&] {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : t::ip_json(node.ns.name(), {"rule", "show"})) {
      if (r.value("priority", -1) == 1024) out.push_back(r);
    }
    return out;
  };
  node.in([] { apply_connmark_rule(true); });
  node.in([] { apply_connmark_rule(true); });
  auto rules = connmark_rules();
  REQUIRE(rules.size() == 1);
  CHECK(rules[0]["fwmark"] == "0x80");
  CHECK(rules[0]["fwmask"] == "0x80");
  CHECK(rules[0]["table"] == "main");
  node.in([] { apply_connmark_rule(false); });
  CHECK(connmark_rules().empty());
  node.in([] { apply_connmark_rule(false); });
}

TEST_CASE("nft_run reports nft's error") {
  Node node;
  try {
    node.in([] { nft_run("add rule ip nosuchtable nochain accept\n", "testing"); });
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(contains(e.what(), "testing: "));
    CHECK(contains(e.what(), "nosuchtable"));
  }
}

#include "net/datapath/datapath.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "net/datapath/netlink.h"
#include "net/datapath/netns.h"
#include "net/datapath/routing.h"
#include "net/datapath/rtnl_batch.h"
#include "net/datapath/rtnl_messages.h"
#include "net/datapath/undo_stack.h"

namespace vpcri::net {
namespace {

constexpr std::chrono::milliseconds kLinkUpTimeout{2000};

IpAddress gateway_ip() { return *IpAddress::parse(kPodGateway); }

IpAddress any_ipv4() {
  IpAddress ip;
  ip.family = AF_INET;
  return ip;
}

bool valid_interface_name(const std::string& name) {
  return !name.empty() && name.size() < IFNAMSIZ && name.find_first_of("/ \t\n:") == std::string::npos &&
         name != "." && name != "..";
}

void check_table(std::optional<uint32_t> table, const std::string& who) {
  if (!table) return;
  if (*table == RT_TABLE_UNSPEC || *table == RT_TABLE_DEFAULT || *table == RT_TABLE_MAIN || *table == RT_TABLE_LOCAL) {
    throw Error(Errc::invalid_argument, who + ": ENI route table " + std::to_string(*table) +
                                            " is reserved (0, 253, 254 and 255 belong to the kernel)");
  }
}

void check_common(const std::string& host_veth, const IpAddress& pod_ip, std::optional<uint32_t> table,
                  const std::string& who) {
  if (!valid_interface_name(host_veth)) {
    throw Error(Errc::invalid_argument, who + ": invalid host veth name '" + host_veth + "' (1-15 characters, no '/', ':' or spaces)");
  }
  if (pod_ip.family != AF_INET) {
    throw Error(Errc::invalid_argument, who + ": pod IP must be IPv4 (got '" + pod_ip.to_string() + "')");
  }
  check_table(table, who);
}

void check_spec(const PodNetwork& spec, const std::string& who) {
  check_common(spec.host_veth, spec.pod_ip, spec.eni_route_table, who);
  if (spec.mtu < kMinPodMtu || spec.mtu > kMaxPodMtu) {
    throw Error(Errc::invalid_argument, who + ": MTU " + std::to_string(spec.mtu) + " is outside " +
                                            std::to_string(kMinPodMtu) + "-" + std::to_string(kMaxPodMtu));
  }
  check_netns_fd(spec.pod_netns_fd, who + ": pod network namespace");
}

// ---- veth ---------------------------------------------------------------------------------

struct CreatedVeth {
  int ifindex = 0;       // the host end's
  int peer_ifindex = 0;  // eth0's, in the pod netns
};

void delete_host_veth(rtnl::Socket& sk, const std::string& name, const std::string& step) {
  rtnl::Batch b;
  rtnl::del_link(b, name, step);
  auto answers = b.send(sk);
  if (!rtnl::is_not_found(answers[0].error)) rtnl::check(b, answers);
}

// One round trip: the pair (host end up, the peer born in the pod netns) and a lookup of the
// host end, whose reply gives both indexes. A stale host end of the same pod (a crash before
// teardown) shows in that lookup when the create fails; it is replaced, as the AWS CNI does.
CreatedVeth create_veth_pair(rtnl::Socket& sk, const PodNetwork& spec, const rtnl::Mac& host_mac) {
  std::string what = "creating veth pair " + spec.host_veth + " <-> " + kPodInterface + " (in the pod netns)";
  rtnl::VethSpec veth{spec.host_veth, kPodInterface, spec.pod_netns_fd, spec.mtu, host_mac, nl::random_mac()};
  for (bool replaced = false;; replaced = true) {
    rtnl::Batch b;
    rtnl::add_veth(b, veth, what);
    rtnl::get_link(b, spec.host_veth, "looking up " + spec.host_veth);
    auto answers = b.send(sk);
    if (answers[0].error == -EEXIST && answers[1].error == 0 && !replaced) {
      std::string kind = rtnl::link_of(answers[1]).kind;
      if (kind != "veth") {
        throw Error(Errc::already_exists, "interface " + spec.host_veth + " exists in the node netns and is not a veth (type " +
                                              (kind.empty() ? "unknown" : kind) + "); refusing to replace it");
      }
      log::warn("replacing stale host veth left by an earlier setup", {{"host_veth", spec.host_veth}});
      delete_host_veth(sk, spec.host_veth, "deleting stale host veth " + spec.host_veth);
      continue;
    }
    if (answers[0].error == -EEXIST) {
      throw Error(Errc::already_exists, what + ": the pod network namespace already has an interface named " +
                                            kPodInterface + " (was the pod's network set up twice?)");
    }
    rtnl::check(b, answers);
    rtnl::LinkInfo host = rtnl::link_of(answers[1]);
    if (host.ifindex <= 0 || !host.peer_ifindex) {
      throw Error(Errc::internal, what + ": the kernel did not report the new veth's interface indexes");
    }
    return {host.ifindex, *host.peer_ifindex};
  }
}

// The pod side in one batch, on a socket of the pod netns. eth0 up before the routes: the kernel
// refuses routes via a down link; the host end is up already, so eth0 has its carrier at once.
void configure_pod_side(rtnl::Socket& pod, const PodNetwork& spec, int eth0, const rtnl::Mac& host_mac) {
  IpAddress gw = gateway_ip();
  rtnl::Batch b;
  rtnl::set_up(b, "lo", "setting lo up in the pod netns");
  rtnl::set_up(b, eth0, "setting eth0 up in the pod netns");
  rtnl::add_address(b, eth0, spec.pod_ip, 32, "adding " + spec.pod_ip.to_string() + "/32 to pod eth0");
  rtnl::add_route(b, {gw, 32, eth0, std::nullopt, RT_SCOPE_LINK, RT_TABLE_MAIN}, NLM_F_EXCL,
                  std::string("adding pod route ") + kPodGateway + " dev eth0");
  rtnl::add_route(b, {any_ipv4(), 0, eth0, gw, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN}, NLM_F_EXCL,
                  std::string("adding pod default route via ") + kPodGateway);
  rtnl::add_permanent_neighbour(b, eth0, gw, host_mac,
                                std::string("adding permanent neighbour ") + kPodGateway + " -> " + nl::format_mac(host_mac));
  rtnl::check(b, b.send(pod));
}

std::string rule_step(const char* verb, uint32_t priority, rtnl::RuleDirection dir, const IpAddress& ip,
                      std::optional<uint32_t> table) {
  auto match = dir == rtnl::RuleDirection::to ? nl::RuleMatch::to(ip) : nl::RuleMatch::from(ip);
  return verb + nl::describe_rule(priority, match, table);
}

// Deletes one matching rule; false if there was none.
bool delete_rule(rtnl::Socket& sk, uint32_t priority, rtnl::RuleDirection dir, const IpAddress& ip,
                 std::optional<uint32_t> table) {
  rtnl::Batch b;
  rtnl::del_rule(b, priority, dir, ip, table, rule_step("deleting ", priority, dir, ip, table));
  auto answers = b.send(sk);
  if (rtnl::is_not_found(answers[0].error)) return false;
  rtnl::check(b, answers);
  return true;
}

// The node side in one batch: the /32 route and the rules. A rule already there (EEXIST) is
// correct as is and not ours to undo.
void configure_node_side(rtnl::Socket& sk, const PodNetwork& spec, int ifindex, UndoStack& undo) {
  using rtnl::RuleDirection;
  rtnl::Batch b;
  // REPLACE: a stale /32 towards an old veth (IP reused after a crash) must point here now.
  // No undo for the route: it goes away with the veth.
  rtnl::add_route(b, {spec.pod_ip, 32, ifindex, std::nullopt, RT_SCOPE_LINK, RT_TABLE_MAIN}, NLM_F_REPLACE,
                  "adding route " + spec.pod_ip.to_string() + " dev " + spec.host_veth);
  rtnl::add_rule(b, kToPodRulePriority, RuleDirection::to, spec.pod_ip, RT_TABLE_MAIN,
                 rule_step("adding ", kToPodRulePriority, RuleDirection::to, spec.pod_ip, RT_TABLE_MAIN));
  if (spec.eni_route_table) {
    rtnl::add_rule(b, kFromPodRulePriority, RuleDirection::from, spec.pod_ip, *spec.eni_route_table,
                   rule_step("adding ", kFromPodRulePriority, RuleDirection::from, spec.pod_ip, spec.eni_route_table));
  }
  auto answers = b.send(sk);
  if (answers[1].error == 0) {
    undo.push("delete to-pod rule",
              [&] { delete_rule(sk, kToPodRulePriority, RuleDirection::to, spec.pod_ip, RT_TABLE_MAIN); });
  }
  if (spec.eni_route_table && answers[2].error == 0) {
    undo.push("delete from-pod rule", [&] {
      delete_rule(sk, kFromPodRulePriority, RuleDirection::from, spec.pod_ip, spec.eni_route_table);
    });
  }
  rtnl::check(b, answers, {-EEXIST});
}

// Return only once the node can send to the pod: a pod's first packets (often a DNS query,
// retried only after seconds) must not vanish into a not-yet-activated queue. Usually up by now,
// and then this costs one request.
bool wait_until_oper_up(rtnl::Socket& sk, const std::string& name) {
  auto deadline = std::chrono::steady_clock::now() + kLinkUpTimeout;
  for (;;) {
    rtnl::Batch b;
    rtnl::get_link(b, name, "waiting for " + name + " to come up");
    auto answers = b.send(sk);
    rtnl::check(b, answers);
    if (rtnl::link_of(answers[0]).oper_up) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

void setup_pod_network(const PodNetwork& spec) {
  std::string who = "setting up pod network " + spec.host_veth + " (" + spec.pod_ip.to_string() + ")";
  check_spec(spec, who);
  try {
    rtnl::Socket node = rtnl::Socket::open();
    // A socket born in the pod netns stays there: the pod side needs no thread of its own later.
    rtnl::Socket pod = rtnl::Socket::open_in(NetNs::dup_fd(spec.pod_netns_fd, "pod netns of " + spec.host_veth));

    UndoStack undo;
    nl::Mac host_mac = nl::random_mac();
    CreatedVeth veth = create_veth_pair(node, spec, host_mac);
    // Deleting the host end takes the pod end, and with it every pod-side address/route/neighbour.
    undo.push("delete " + spec.host_veth, [&] { delete_host_veth(node, spec.host_veth, "deleting " + spec.host_veth); });

    configure_pod_side(pod, spec, veth.peer_ifindex, host_mac);
    configure_node_side(node, spec, veth.ifindex, undo);
    undo.commit();

    if (!wait_until_oper_up(node, spec.host_veth)) {
      log::warn("host veth not operationally up yet; the pod's first packets may be dropped",
                {{"host_veth", spec.host_veth}, {"waited_ms", std::to_string(kLinkUpTimeout.count())}});
    }
  } catch (const Error& e) {
    throw Error(e.code(), who + ": " + e.what());
  }
  log::info("pod network set up", {{"host_veth", spec.host_veth},
                                   {"pod_ip", spec.pod_ip.to_string()},
                                   {"eni_table", spec.eni_route_table ? std::to_string(*spec.eni_route_table) : "main"}});
}

namespace {

// Interface index of the main-table route for exactly <ip>/32, if there is one, from a dump of
// all routes: only when the lookup below could not answer.
std::optional<int> main_route_oif_dumped(const IpAddress& ip) {
  auto sk = nl::connect(NETLINK_ROUTE);
  nl_cache* raw = nullptr;
  nl::check(rtnl_route_alloc_cache(sk.get(), AF_INET, 0, &raw), "listing IPv4 routes");
  nl::Cache cache(raw);
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* route = reinterpret_cast<rtnl_route*>(obj);
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN) continue;
    nl_addr* dst = rtnl_route_get_dst(route);
    if (!dst || nl_addr_get_prefixlen(dst) != 32 || nl_addr_get_len(dst) != 4) continue;
    if (std::memcmp(nl_addr_get_binary_addr(dst), ip.bytes.data(), 4) != 0) continue;
    if (rtnl_route_get_nnexthops(route) < 1) continue;
    return rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, 0));
  }
  return std::nullopt;
}

// Where the node sends pod_ip now: the main-table /32 for exactly that IP, if there is one. The
// lookup follows the ip rules, and the to-pod rule (512) sends pod_ip to main before any table
// but local; a lookup that fails (no route at all, say) falls back to a dump.
std::optional<int> routed_to(const rtnl::Answer& lookup, const IpAddress& pod_ip) {
  if (lookup.error != 0) return main_route_oif_dumped(pod_ip);
  rtnl::RouteInfo route = rtnl::route_of(lookup);
  if (route.table != RT_TABLE_MAIN || route.prefix_len != 32 || !route.dst || !(*route.dst == pod_ip)) return std::nullopt;
  return route.oif;
}

// Appends both deletions twice: a second success means a duplicate, deleted one by one after.
void delete_rules_twice(rtnl::Batch& b, uint32_t priority, rtnl::RuleDirection dir, const IpAddress& ip,
                        std::optional<uint32_t> table) {
  for (int i = 0; i < 2; ++i) rtnl::del_rule(b, priority, dir, ip, table, rule_step("deleting ", priority, dir, ip, table));
}

}  // namespace

void teardown_pod_network(const std::string& host_veth, const IpAddress& pod_ip, std::optional<uint32_t> eni_route_table) {
  std::string who = "tearing down pod network " + host_veth + " (" + pod_ip.to_string() + ")";
  check_common(host_veth, pod_ip, eni_route_table, who);
  using rtnl::RuleDirection;
  try {
    rtnl::Socket sk = rtnl::Socket::open();
    // One trip for both questions: does our veth exist, and where does the node route pod_ip
    // (a route lookup, not a dump: its cost does not grow with the number of pods).
    rtnl::Batch look;
    rtnl::get_link(look, host_veth, "looking up " + host_veth);
    rtnl::lookup_route(look, pod_ip, "looking up the route to " + pod_ip.to_string());
    auto found = look.send(sk);
    std::optional<int> ifindex;
    if (found[0].error == 0) {
      ifindex = rtnl::link_of(found[0]).ifindex;
    } else if (!rtnl::is_not_found(found[0].error)) {
      rtnl::check(look, {found[0]});
    }
    std::optional<int> routed = routed_to(found[1], pod_ip);

    // Rules first, then the veth (its /32 route goes with it), in one batch the kernel runs in
    // order: a crash in between leaves rules only while the route still points at our veth,
    // which the check below relies on.
    rtnl::Batch b;
    bool rules = !routed || routed == ifindex;
    if (rules) {
      delete_rules_twice(b, kFromPodRulePriority, RuleDirection::from, pod_ip, eni_route_table);
      delete_rules_twice(b, kToPodRulePriority, RuleDirection::to, pod_ip, RT_TABLE_MAIN);
    } else {
      log::warn("pod IP is routed to another interface (reused by a newer pod); keeping its ip rules",
                {{"host_veth", host_veth}, {"pod_ip", pod_ip.to_string()}, {"ifindex", std::to_string(*routed)}});
    }
    if (ifindex) rtnl::del_link(b, host_veth, "deleting interface " + host_veth);
    auto answers = b.send(sk);
    // A second deletion that succeeded means a duplicate (rare): the rest go one at a time.
    bool more_from = rules && answers[1].error == 0;
    bool more_to = rules && answers[3].error == 0;
    for (auto& a : answers) {
      if (rtnl::is_not_found(a.error)) a.error = 0;
    }
    rtnl::check(b, answers);
    for (int n = 0; more_from && n < 64; ++n) {
      more_from = delete_rule(sk, kFromPodRulePriority, RuleDirection::from, pod_ip, eni_route_table);
    }
    for (int n = 0; more_to && n < 64; ++n) {
      more_to = delete_rule(sk, kToPodRulePriority, RuleDirection::to, pod_ip, RT_TABLE_MAIN);
    }
  } catch (const Error& e) {
    throw Error(e.code(), who + ": " + e.what());
  }
  log::info("pod network torn down", {{"host_veth", host_veth}, {"pod_ip", pod_ip.to_string()}});
}

std::vector<std::string> list_host_veths(std::string_view prefix) {
  auto sk = nl::connect(NETLINK_ROUTE);
  nl_cache* raw = nullptr;
  nl::check(rtnl_link_alloc_cache(sk.get(), AF_UNSPEC, &raw), "listing interfaces");
  nl::Cache cache(raw);
  std::vector<std::string> names;
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* link = reinterpret_cast<rtnl_link*>(obj);
    const char* name = rtnl_link_get_name(link);
    const char* type = rtnl_link_get_type(link);
    if (!name || !type || std::strcmp(type, "veth") != 0) continue;
    if (std::string_view(name).substr(0, prefix.size()) == prefix) names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace vpcri::net

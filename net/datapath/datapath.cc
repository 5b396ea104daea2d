#include "net/datapath/datapath.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/link/veth.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/error.h"
#include "common/log.h"
#include "net/datapath/netlink.h"
#include "net/datapath/netns.h"
#include "net/datapath/routing.h"
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

// ---- routes -------------------------------------------------------------------------------

// Interface index of the main-table route for exactly <ip>/32, if there is one.
std::optional<int> main_route_oif(nl_sock* sk, const IpAddress& ip) {
  nl_cache* raw = nullptr;
  nl::check(rtnl_route_alloc_cache(sk, AF_INET, 0, &raw), "listing IPv4 routes");
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

// ---- rules --------------------------------------------------------------------------------

// ---- veth ---------------------------------------------------------------------------------

void create_veth_pair(nl_sock* sk, const PodNetwork& spec, const nl::Mac& host_mac, const nl::Mac& pod_mac) {
  nl::Link veth(rtnl_link_veth_alloc());
  if (!veth) throw Error(Errc::resource_exhausted, "allocating a netlink veth");
  rtnl_link_set_name(veth.get(), spec.host_veth.c_str());
  rtnl_link_set_mtu(veth.get(), static_cast<unsigned>(spec.mtu));
  rtnl_link_set_addr(veth.get(), nl::mac_addr(host_mac).get());
  nl::Link peer(rtnl_link_veth_get_peer(veth.get()));
  rtnl_link_set_name(peer.get(), kPodInterface);
  rtnl_link_set_mtu(peer.get(), static_cast<unsigned>(spec.mtu));
  rtnl_link_set_addr(peer.get(), nl::mac_addr(pod_mac).get());
  // Born inside the pod netns: moving it there afterwards would serialise pod creation in the kernel.
  rtnl_link_set_ns_fd(peer.get(), spec.pod_netns_fd);
  int err = rtnl_link_add(sk, veth.get(), NLM_F_CREATE | NLM_F_EXCL);
  std::string what = "creating veth pair " + spec.host_veth + " <-> " + kPodInterface + " (in the pod netns)";
  if (-err == NLE_EXIST) {
    throw Error(Errc::already_exists, what + ": the pod network namespace already has an interface named " +
                                          kPodInterface + " (was the pod's network set up twice?)");
  }
  nl::check(err, what);
}

// A leftover of the same pod (crash before teardown) holds the name; the AWS CNI replaces it too.
void remove_stale_host_veth(nl_sock* sk, const std::string& name) {
  nl::Link existing = nl::find_link(sk, name);
  if (!existing) return;
  const char* type = rtnl_link_get_type(existing.get());
  if (!type || std::strcmp(type, "veth") != 0) {
    throw Error(Errc::already_exists, "interface " + name + " exists in the node netns and is not a veth (type " +
                                          (type ? type : "unknown") + "); refusing to replace it");
  }
  log::warn("replacing stale host veth left by an earlier setup", {{"host_veth", name}});
  nl::delete_link(sk, name);
}

void configure_pod_side(const PodNetwork& spec, const nl::Mac& host_mac) {
  auto sk = nl::connect(NETLINK_ROUTE);
  nl::set_link_up(sk.get(), "lo");
  nl::Link eth0 = nl::find_link(sk.get(), kPodInterface);
  if (!eth0) throw Error(Errc::internal, std::string(kPodInterface) + " vanished from the pod netns right after creation");
  int ifindex = rtnl_link_get_ifindex(eth0.get());
  nl::set_link_up(sk.get(), kPodInterface);  // before the routes: the kernel refuses routes via a down link

  nl::IfAddr addr(rtnl_addr_alloc());
  if (!addr) throw Error(Errc::resource_exhausted, "allocating a netlink address");
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  rtnl_addr_set_family(addr.get(), AF_INET);
  nl::check(rtnl_addr_set_local(addr.get(), nl::ip_addr(spec.pod_ip, 32).get()), "setting pod address");
  rtnl_addr_set_prefixlen(addr.get(), 32);
  nl::check(rtnl_addr_add(sk.get(), addr.get(), 0), "adding " + spec.pod_ip.to_string() + "/32 to pod eth0");

  IpAddress gw = gateway_ip();
  auto gw_route = nl::make_route(gw, 32, ifindex, nullptr, RT_SCOPE_LINK, RT_TABLE_MAIN);
  nl::check(rtnl_route_add(sk.get(), gw_route.get(), NLM_F_EXCL), std::string("adding pod route ") + kPodGateway + " dev eth0");
  auto default_route = nl::make_route(any_ipv4(), 0, ifindex, &gw, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN);
  nl::check(rtnl_route_add(sk.get(), default_route.get(), NLM_F_EXCL),
            std::string("adding pod default route via ") + kPodGateway);

  nl::Neigh neigh(rtnl_neigh_alloc());
  if (!neigh) throw Error(Errc::resource_exhausted, "allocating a netlink neighbour");
  rtnl_neigh_set_ifindex(neigh.get(), ifindex);
  rtnl_neigh_set_family(neigh.get(), AF_INET);
  nl::check(rtnl_neigh_set_dst(neigh.get(), nl::ip_addr(gw, 32).get()), "setting neighbour address");
  rtnl_neigh_set_lladdr(neigh.get(), nl::mac_addr(host_mac).get());
  rtnl_neigh_set_state(neigh.get(), NUD_PERMANENT);
  nl::check(rtnl_neigh_add(sk.get(), neigh.get(), NLM_F_CREATE | NLM_F_REPLACE),
            std::string("adding permanent neighbour ") + kPodGateway + " -> " + nl::format_mac(host_mac));
}

}  // namespace

void setup_pod_network(const PodNetwork& spec) {
  std::string who = "setting up pod network " + spec.host_veth + " (" + spec.pod_ip.to_string() + ")";
  check_spec(spec, who);
  try {
    auto sk = nl::connect(NETLINK_ROUTE);
    remove_stale_host_veth(sk.get(), spec.host_veth);

    UndoStack undo;
    nl::Mac host_mac = nl::random_mac();
    create_veth_pair(sk.get(), spec, host_mac, nl::random_mac());
    // Deleting the host end takes the pod end, and with it every pod-side address/route/neighbour.
    undo.push("delete " + spec.host_veth, [&] { nl::delete_link(sk.get(), spec.host_veth); });

    // Host end up first, so that eth0 has its carrier when it comes up and can send at once; the
    // host end's own queue is activated asynchronously, waited for at the end.
    nl::set_link_up(sk.get(), spec.host_veth);
    run_in_netns(NetNs::dup_fd(spec.pod_netns_fd, "pod netns of " + spec.host_veth),
                 [&] { configure_pod_side(spec, host_mac); });

    nl::Link host = nl::find_link(sk.get(), spec.host_veth);
    if (!host) throw Error(Errc::internal, spec.host_veth + " vanished right after creation");
    int ifindex = rtnl_link_get_ifindex(host.get());
    // REPLACE: a stale /32 towards an old veth (IP reused after a crash) must point here now.
    auto route = nl::make_route(spec.pod_ip, 32, ifindex, nullptr, RT_SCOPE_LINK, RT_TABLE_MAIN);
    nl::check(rtnl_route_add(sk.get(), route.get(), NLM_F_REPLACE),
              "adding route " + spec.pod_ip.to_string() + " dev " + spec.host_veth);
    // No undo for the route: it goes away with the veth.

    if (nl::add_rule(sk.get(), kToPodRulePriority, nl::RuleMatch::to(spec.pod_ip), RT_TABLE_MAIN)) {
      undo.push("delete to-pod rule",
                [&] { nl::delete_rules(sk.get(), kToPodRulePriority, nl::RuleMatch::to(spec.pod_ip), RT_TABLE_MAIN); });
    }
    if (spec.eni_route_table &&
        nl::add_rule(sk.get(), kFromPodRulePriority, nl::RuleMatch::from(spec.pod_ip), *spec.eni_route_table)) {
      undo.push("delete from-pod rule", [&] {
        nl::delete_rules(sk.get(), kFromPodRulePriority, nl::RuleMatch::from(spec.pod_ip), spec.eni_route_table);
      });
    }
    undo.commit();

    // Return only once the node can send to the pod: a pod's first packets (often a DNS query,
    // retried only after seconds) must not vanish into a not-yet-activated queue.
    if (!nl::wait_until_oper_up(sk.get(), spec.host_veth, kLinkUpTimeout)) {
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

void teardown_pod_network(const std::string& host_veth, const IpAddress& pod_ip, std::optional<uint32_t> eni_route_table) {
  std::string who = "tearing down pod network " + host_veth + " (" + pod_ip.to_string() + ")";
  check_common(host_veth, pod_ip, eni_route_table, who);
  try {
    auto sk = nl::connect(NETLINK_ROUTE);
    nl::Link host = nl::find_link(sk.get(), host_veth);
    std::optional<int> ifindex;
    if (host) ifindex = rtnl_link_get_ifindex(host.get());

    // Rules first, then the route, then the veth: a crash in between leaves rules only while the
    // route still points at our veth, which the check below relies on.
    std::optional<int> routed_to = main_route_oif(sk.get(), pod_ip);
    if (routed_to && routed_to != ifindex) {
      log::warn("pod IP is routed to another interface (reused by a newer pod); keeping its ip rules",
                {{"host_veth", host_veth}, {"pod_ip", pod_ip.to_string()}, {"ifindex", std::to_string(*routed_to)}});
    } else {
      nl::delete_rules(sk.get(), kFromPodRulePriority, nl::RuleMatch::from(pod_ip), eni_route_table);
      nl::delete_rules(sk.get(), kToPodRulePriority, nl::RuleMatch::to(pod_ip), RT_TABLE_MAIN);
    }
    if (ifindex) {
      auto route = nl::make_route(pod_ip, 32, *ifindex, nullptr, RT_SCOPE_LINK, RT_TABLE_MAIN);
      int err = rtnl_route_delete(sk.get(), route.get(), 0);
      if (!nl::is_not_found(err)) nl::check(err, "deleting route " + pod_ip.to_string() + " dev " + host_veth);
      nl::delete_link(sk.get(), host_veth);
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

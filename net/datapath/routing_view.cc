#include "net/datapath/routing_view.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

#include "net/datapath/netlink.h"

namespace vpcri::net {
namespace {

// "a.b.c.d/n" for an IPv4 netlink address, "" for none or another family.
std::string cidr_text(nl_addr* addr) {
  if (!addr || nl_addr_get_family(addr) != AF_INET || nl_addr_get_len(addr) != 4) return "";
  IpAddress ip;
  ip.family = AF_INET;
  std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(addr), 4);
  return ip.to_string() + "/" + std::to_string(nl_addr_get_prefixlen(addr));
}

std::string interface_name(int ifindex) {
  if (ifindex <= 0) return "";
  std::array<char, IF_NAMESIZE> name{};
  if (!if_indextoname(static_cast<unsigned>(ifindex), name.data())) return "if" + std::to_string(ifindex);
  return name.data();
}

}  // namespace

std::string route_table_name(uint32_t table) {
  switch (table) {
    case RT_TABLE_MAIN: return "main";
    case RT_TABLE_LOCAL: return "local";
    case RT_TABLE_DEFAULT: return "default";
    default: return std::to_string(table);
  }
}

KernelRoutingSnapshot::KernelRoutingSnapshot() {
  nl::Socket sk = nl::connect(NETLINK_ROUTE);
  nl_cache* raw = nullptr;
  nl::check(rtnl_route_alloc_cache(sk.get(), AF_INET, 0, &raw), "listing IPv4 routes");
  nl::Cache routes(raw);
  for (nl_object* obj = nl_cache_get_first(routes.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* route = reinterpret_cast<rtnl_route*>(obj);
    Route r;
    r.destination = cidr_text(rtnl_route_get_dst(route));
    if (r.destination.empty()) continue;
    r.view.destination = r.destination;
    r.view.table = route_table_name(rtnl_route_get_table(route));
    if (rtnl_route_get_nnexthops(route) >= 1) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(route, 0);
      r.view.device = interface_name(rtnl_route_nh_get_ifindex(nh));
      r.view.gateway = cidr_text(rtnl_route_nh_get_gateway(nh));
      if (r.view.gateway.ends_with("/32")) r.view.gateway.resize(r.view.gateway.size() - 3);
    }
    routes_.push_back(std::move(r));
  }
  raw = nullptr;
  nl::check(rtnl_rule_alloc_cache(sk.get(), AF_INET, &raw), "listing IPv4 ip rules");
  nl::Cache rules(raw);
  for (nl_object* obj = nl_cache_get_first(rules.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* rule = reinterpret_cast<rtnl_rule*>(obj);
    Rule r;
    r.source = cidr_text(rtnl_rule_get_src(rule));
    r.destination = cidr_text(rtnl_rule_get_dst(rule));
    if (r.source.empty() && r.destination.empty()) continue;  // not about one address
    r.view.priority = rtnl_rule_get_prio(rule);
    r.view.selector = r.source.empty() ? "to " + r.destination : "from " + r.source;
    if (!r.source.empty() && !r.destination.empty()) r.view.selector += " to " + r.destination;
    r.view.table = route_table_name(rtnl_rule_get_table(rule));
    rules_.push_back(std::move(r));
  }
}

KernelPodRouting KernelRoutingSnapshot::for_ip(const IpAddress& pod_ip) const {
  const std::string host = pod_ip.to_string() + "/32";
  KernelPodRouting out;
  for (const auto& r : routes_) {
    if (r.destination == host) out.routes.push_back(r.view);
  }
  for (const auto& r : rules_) {
    if (r.source == host || r.destination == host) out.rules.push_back(r.view);
  }
  return out;
}

}  // namespace vpcri::net

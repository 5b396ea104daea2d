#include "net/datapath/routing.h"

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netlink/route/nexthop.h>
#include <sys/socket.h>

#include <cstdio>

namespace vpcri::net::nl {

Route make_route(const IpAddress& dst, int prefix_len, int ifindex, const IpAddress* gateway, uint8_t scope,
                 uint32_t table) {
  Route route(rtnl_route_alloc());
  if (!route) throw Error(Errc::resource_exhausted, "allocating a netlink route");
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), table);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
  rtnl_route_set_scope(route.get(), scope);
  check(rtnl_route_set_dst(route.get(), ip_addr(dst, prefix_len).get()), "setting route destination");
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) throw Error(Errc::resource_exhausted, "allocating a netlink nexthop");
  rtnl_route_nh_set_ifindex(nh, ifindex);
  if (gateway) rtnl_route_nh_set_gateway(nh, ip_addr(*gateway, 32).get());
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh from here
  return route;
}

namespace {

Rule make_rule(uint32_t priority, const RuleMatch& match, std::optional<uint32_t> table) {
  Rule rule(rtnl_rule_alloc());
  if (!rule) throw Error(Errc::resource_exhausted, "allocating a netlink rule");
  rtnl_rule_set_family(rule.get(), AF_INET);
  rtnl_rule_set_prio(rule.get(), priority);
  switch (match.kind) {
    case RuleMatch::Kind::to:
      check(rtnl_rule_set_dst(rule.get(), ip_addr(match.ip, 32).get()), "setting rule selector");
      break;
    case RuleMatch::Kind::from:
      check(rtnl_rule_set_src(rule.get(), ip_addr(match.ip, 32).get()), "setting rule selector");
      break;
    case RuleMatch::Kind::fwmark:
      rtnl_rule_set_mark(rule.get(), match.mark);
      rtnl_rule_set_mask(rule.get(), match.mask);
      break;
  }
  if (table) {
    rtnl_rule_set_table(rule.get(), *table);
    rtnl_rule_set_action(rule.get(), FR_ACT_TO_TBL);
  }
  return rule;
}

std::string hex(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", value);
  return buf;
}

}  // namespace

std::string describe_rule(uint32_t priority, const RuleMatch& match, std::optional<uint32_t> table) {
  std::string selector;
  switch (match.kind) {
    case RuleMatch::Kind::to: selector = "to " + match.ip.to_string(); break;
    case RuleMatch::Kind::from: selector = "from " + match.ip.to_string(); break;
    case RuleMatch::Kind::fwmark: selector = "fwmark " + hex(match.mark) + "/" + hex(match.mask); break;
  }
  return "ip rule " + std::to_string(priority) + " " + selector + " lookup " +
         (table ? std::to_string(*table) : std::string("<any>"));
}

bool add_rule(nl_sock* sk, uint32_t priority, const RuleMatch& match, uint32_t table) {
  auto rule = make_rule(priority, match, table);
  // EXCL: without it the kernel happily stacks duplicate rules.
  int err = rtnl_rule_add(sk, rule.get(), NLM_F_EXCL);
  if (-err == NLE_EXIST) return false;
  check(err, "adding " + describe_rule(priority, match, table));
  return true;
}

int delete_rules(nl_sock* sk, uint32_t priority, const RuleMatch& match, std::optional<uint32_t> table) {
  auto rule = make_rule(priority, match, table);
  for (int deleted = 0; deleted < 64; ++deleted) {
    int err = rtnl_rule_delete(sk, rule.get(), 0);
    if (is_not_found(err)) return deleted;
    check(err, "deleting " + describe_rule(priority, match, table));
  }
  throw Error(Errc::internal, "deleting " + describe_rule(priority, match, table) +
                                  ": still present after 64 deletions; something keeps re-adding it");
}

}  // namespace vpcri::net::nl

// Routes and ip rules over netlink (libnl-route-3): the pieces the pod datapath, the secondary
// ENI links and the connmark rule share. Like netlink.h, they act on the netns of the socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "net/cidr.h"
#include "net/datapath/netlink.h"

namespace vpcri::net::nl {

// A unicast IPv4 route <dst>/<prefix_len> [via gateway] dev <ifindex> in `table`.
Route make_route(const IpAddress& dst, int prefix_len, int ifindex, const IpAddress* gateway, uint8_t scope,
                 uint32_t table);

// What an ip rule matches on.
struct RuleMatch {
  enum class Kind { to, from, fwmark };
  Kind kind = Kind::to;
  IpAddress ip;        // to/from: an IPv4 /32
  uint32_t mark = 0;   // fwmark: mark/mask
  uint32_t mask = 0;

  static RuleMatch to(const IpAddress& ip) { return {Kind::to, ip, 0, 0}; }
  static RuleMatch from(const IpAddress& ip) { return {Kind::from, ip, 0, 0}; }
  static RuleMatch fwmark(uint32_t mark, uint32_t mask) { return {Kind::fwmark, {}, mark, mask}; }
};

// "ip rule <priority> from 10.0.0.5 lookup 3" (table nullopt: "<any>"), for messages.
std::string describe_rule(uint32_t priority, const RuleMatch& match, std::optional<uint32_t> table);

// Adds the rule; returns false if an identical rule was already there (it is correct as is).
bool add_rule(nl_sock* sk, uint32_t priority, const RuleMatch& match, uint32_t table);

// Deletes every matching rule (duplicates included; table nullopt: whatever its table) and
// returns how many.
int delete_rules(nl_sock* sk, uint32_t priority, const RuleMatch& match, std::optional<uint32_t> table);

}  // namespace vpcri::net::nl

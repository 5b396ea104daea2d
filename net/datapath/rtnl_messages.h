// The rtnetlink requests of the pod datapath, each appended to a Batch (rtnl_batch.h) under a
// step name, and the one reply it reads (a link's index, peer, kind and operstate).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "net/cidr.h"
#include "net/datapath/rtnl_batch.h"

namespace vpcri::net::rtnl {

using Mac = std::array<uint8_t, 6>;

struct VethSpec {
  std::string name;       // host end, in the socket's netns
  std::string peer_name;  // born in peer_netns_fd's netns
  int peer_netns_fd = -1;
  int mtu = 0;
  Mac mac{};
  Mac peer_mac{};
};

// RTM_NEWLINK (CREATE|EXCL) of a veth pair, the host end up (the peer cannot be: see .cc).
void add_veth(Batch& b, const VethSpec& spec, std::string step);
// RTM_NEWLINK setting `name` up.
void set_up(Batch& b, const std::string& name, std::string step);
void set_up(Batch& b, int ifindex, std::string step);
// RTM_GETLINK by name; the answer's reply parses with link_of().
void get_link(Batch& b, const std::string& name, std::string step);
// RTM_DELLINK by name.
void del_link(Batch& b, const std::string& name, std::string step);

struct LinkInfo {
  int ifindex = 0;
  std::optional<int> peer_ifindex;  // IFLA_LINK: a veth's peer, in the peer's netns
  std::string kind;                 // IFLA_INFO_KIND, "" if none
  bool oper_up = false;
};
LinkInfo link_of(const Answer& answer);

// RTM_NEWADDR <ip>/<prefix_len> on ifindex (CREATE|EXCL).
void add_address(Batch& b, int ifindex, const IpAddress& ip, int prefix_len, std::string step);

struct RouteSpec {
  IpAddress dst;
  int prefix_len = 32;
  int oif = 0;
  std::optional<IpAddress> gateway;
  uint8_t scope = 0;  // RT_SCOPE_*
  uint32_t table = 0;
};
// RTM_NEWROUTE (unicast, proto boot) with CREATE and `flags` (NLM_F_EXCL or NLM_F_REPLACE).
void add_route(Batch& b, const RouteSpec& route, uint16_t flags, std::string step);
// RTM_GETROUTE with RTM_F_FIB_MATCH: the route the kernel would use for `dst`.
void lookup_route(Batch& b, const IpAddress& dst, std::string step);
struct RouteInfo {
  uint32_t table = 0;
  int prefix_len = 0;
  std::optional<IpAddress> dst;
  std::optional<int> oif;
};
RouteInfo route_of(const Answer& answer);

// RTM_NEWNEIGH, permanent (CREATE|REPLACE).
void add_permanent_neighbour(Batch& b, int ifindex, const IpAddress& ip, const Mac& mac, std::string step);

// ip rule <priority> {to|from} <ip>/32 [lookup <table>]: RTM_NEWRULE (CREATE|EXCL) needs the
// table; RTM_DELRULE without one matches any table.
enum class RuleDirection { to, from };
void add_rule(Batch& b, uint32_t priority, RuleDirection dir, const IpAddress& ip, uint32_t table, std::string step);
void del_rule(Batch& b, uint32_t priority, RuleDirection dir, const IpAddress& ip, std::optional<uint32_t> table,
              std::string step);

}  // namespace vpcri::net::rtnl

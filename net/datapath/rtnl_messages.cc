#include "net/datapath/rtnl_messages.h"

#include <net/if.h>
// after <net/if.h>: linux/if.h then only adds what glibc lacks (IF_OPER_*)
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <cstring>

namespace vpcri::net::rtnl {
namespace {

ifinfomsg up_link() {
  ifinfomsg m{};
  m.ifi_family = AF_UNSPEC;
  m.ifi_flags = IFF_UP;
  m.ifi_change = IFF_UP;
  return m;
}

void ipv4_attr(Batch& b, uint16_t type, const IpAddress& ip) { b.attr(type, ip.bytes.data(), 4); }

// The fixed header of a reply, if the answer has one.
template <class Header>
std::optional<Header> header_of(const Answer& answer) {
  if (answer.reply.size() < NLMSG_LENGTH(sizeof(Header))) return std::nullopt;
  Header h;
  std::memcpy(&h, answer.reply.data() + NLMSG_HDRLEN, sizeof h);
  return h;
}

}  // namespace

void add_veth(Batch& b, const VethSpec& spec, std::string step) {
  ifinfomsg host = up_link();
  b.begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, host, std::move(step));
  b.attr(IFLA_IFNAME, spec.name);
  b.attr_value<uint32_t>(IFLA_MTU, static_cast<uint32_t>(spec.mtu));
  b.attr(IFLA_ADDRESS, spec.mac.data(), spec.mac.size());
  size_t linkinfo = b.nest_begin(IFLA_LINKINFO);
  b.attr(IFLA_INFO_KIND, std::string_view("veth"));
  size_t data = b.nest_begin(IFLA_INFO_DATA);
  size_t peer = b.nest_begin(VETH_INFO_PEER);
  // Born down: the kernel would bring it up before tying the pair, which fails (ENOTCONN).
  ifinfomsg peer_link{};
  b.raw(&peer_link, sizeof peer_link);
  b.attr(IFLA_IFNAME, spec.peer_name);
  b.attr_value<uint32_t>(IFLA_MTU, static_cast<uint32_t>(spec.mtu));
  b.attr(IFLA_ADDRESS, spec.peer_mac.data(), spec.peer_mac.size());
  // Born inside the pod netns: moving it there afterwards would serialise pod creation in the kernel.
  b.attr_value<uint32_t>(IFLA_NET_NS_FD, static_cast<uint32_t>(spec.peer_netns_fd));
  b.nest_end(peer);
  b.nest_end(data);
  b.nest_end(linkinfo);
}

void set_up(Batch& b, const std::string& name, std::string step) {
  b.begin(RTM_NEWLINK, 0, up_link(), std::move(step));
  b.attr(IFLA_IFNAME, name);
}

void set_up(Batch& b, int ifindex, std::string step) {
  ifinfomsg m = up_link();
  m.ifi_index = ifindex;
  b.begin(RTM_NEWLINK, 0, m, std::move(step));
}

void get_link(Batch& b, const std::string& name, std::string step) {
  ifinfomsg m{};
  m.ifi_family = AF_UNSPEC;
  b.begin(RTM_GETLINK, 0, m, std::move(step));
  b.attr(IFLA_IFNAME, name);
  b.attr_value<uint32_t>(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);  // a smaller reply
}

void del_link(Batch& b, const std::string& name, std::string step) {
  ifinfomsg m{};
  m.ifi_family = AF_UNSPEC;
  b.begin(RTM_DELLINK, 0, m, std::move(step));
  b.attr(IFLA_IFNAME, name);
}

LinkInfo link_of(const Answer& answer) {
  LinkInfo info;
  auto m = header_of<ifinfomsg>(answer);
  if (!m) return info;
  info.ifindex = m->ifi_index;
  Attrs attrs = Attrs::parse(answer.reply, sizeof *m);
  if (auto link = attrs.u32(IFLA_LINK)) info.peer_ifindex = static_cast<int>(*link);
  if (auto state = attrs.u8(IFLA_OPERSTATE)) info.oper_up = *state == IF_OPER_UP;
  if (const void* linkinfo = attrs.data(IFLA_LINKINFO)) {
    Attrs nested = Attrs::parse_nested(linkinfo, attrs.len(IFLA_LINKINFO));
    if (auto kind = nested.str(IFLA_INFO_KIND)) info.kind = *kind;
  }
  return info;
}

void add_address(Batch& b, int ifindex, const IpAddress& ip, int prefix_len, std::string step) {
  ifaddrmsg m{};
  m.ifa_family = AF_INET;
  m.ifa_prefixlen = static_cast<uint8_t>(prefix_len);
  m.ifa_index = static_cast<uint32_t>(ifindex);
  b.begin(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, m, std::move(step));
  ipv4_attr(b, IFA_LOCAL, ip);
  ipv4_attr(b, IFA_ADDRESS, ip);
}

void add_route(Batch& b, const RouteSpec& route, uint16_t flags, std::string step) {
  rtmsg m{};
  m.rtm_family = AF_INET;
  m.rtm_dst_len = static_cast<uint8_t>(route.prefix_len);
  m.rtm_table = static_cast<uint8_t>(route.table < 256 ? route.table : uint32_t{RT_TABLE_UNSPEC});
  m.rtm_protocol = RTPROT_BOOT;
  m.rtm_scope = route.scope;
  m.rtm_type = RTN_UNICAST;
  b.begin(RTM_NEWROUTE, static_cast<uint16_t>(NLM_F_CREATE | flags), m, std::move(step));
  b.attr_value<uint32_t>(RTA_TABLE, route.table);
  if (route.prefix_len > 0) ipv4_attr(b, RTA_DST, route.dst);
  b.attr_value<uint32_t>(RTA_OIF, static_cast<uint32_t>(route.oif));
  if (route.gateway) ipv4_attr(b, RTA_GATEWAY, *route.gateway);
}

void lookup_route(Batch& b, const IpAddress& dst, std::string step) {
  rtmsg m{};
  m.rtm_family = AF_INET;
  m.rtm_dst_len = 32;
  m.rtm_flags = RTM_F_FIB_MATCH;
  b.begin(RTM_GETROUTE, 0, m, std::move(step));
  ipv4_attr(b, RTA_DST, dst);
}

RouteInfo route_of(const Answer& answer) {
  RouteInfo info;
  auto m = header_of<rtmsg>(answer);
  if (!m) return info;
  info.prefix_len = m->rtm_dst_len;
  Attrs attrs = Attrs::parse(answer.reply, sizeof *m);
  info.table = attrs.u32(RTA_TABLE).value_or(m->rtm_table);
  if (attrs.len(RTA_DST) == 4) {
    IpAddress dst;
    dst.family = AF_INET;
    std::memcpy(dst.bytes.data(), attrs.data(RTA_DST), 4);
    info.dst = dst;
  }
  if (auto oif = attrs.u32(RTA_OIF)) info.oif = static_cast<int>(*oif);
  return info;
}

void add_permanent_neighbour(Batch& b, int ifindex, const IpAddress& ip, const Mac& mac, std::string step) {
  ndmsg m{};
  m.ndm_family = AF_INET;
  m.ndm_ifindex = ifindex;
  m.ndm_state = NUD_PERMANENT;
  b.begin(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, m, std::move(step));
  ipv4_attr(b, NDA_DST, ip);
  b.attr(NDA_LLADDR, mac.data(), mac.size());
}

namespace {

void rule(Batch& b, uint16_t type, uint16_t flags, uint32_t priority, RuleDirection dir, const IpAddress& ip,
          std::optional<uint32_t> table, std::string step) {
  fib_rule_hdr h{};
  h.family = AF_INET;
  (dir == RuleDirection::to ? h.dst_len : h.src_len) = 32;
  if (table) {
    h.table = static_cast<uint8_t>(*table < 256 ? *table : uint32_t{RT_TABLE_UNSPEC});
    h.action = FR_ACT_TO_TBL;
  }
  b.begin(type, flags, h, std::move(step));
  b.attr_value<uint32_t>(FRA_PRIORITY, priority);
  ipv4_attr(b, dir == RuleDirection::to ? FRA_DST : FRA_SRC, ip);
  if (table) b.attr_value<uint32_t>(FRA_TABLE, *table);
}

}  // namespace

void add_rule(Batch& b, uint32_t priority, RuleDirection dir, const IpAddress& ip, uint32_t table, std::string step) {
  // EXCL: without it the kernel happily stacks duplicate rules.
  rule(b, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, priority, dir, ip, table, std::move(step));
}

void del_rule(Batch& b, uint32_t priority, RuleDirection dir, const IpAddress& ip, std::optional<uint32_t> table,
              std::string step) {
  rule(b, RTM_DELRULE, 0, priority, dir, ip, table, std::move(step));
}

}  // namespace vpcri::net::rtnl

#include "net/datapath/link_stats.h"

#include <net/if.h>

#include <algorithm>

#include "net/datapath/netlink.h"
#include "net/datapath/netns.h"

namespace vpcri::net {
namespace {

uint64_t stat(rtnl_link* link, rtnl_link_stat_id_t id) { return rtnl_link_get_stat(link, id); }

InterfaceCounters counters_of(rtnl_link* link) {
  InterfaceCounters c;
  c.name = rtnl_link_get_name(link);
  c.rx_bytes = stat(link, RTNL_LINK_RX_BYTES);
  c.tx_bytes = stat(link, RTNL_LINK_TX_BYTES);
  c.rx_packets = stat(link, RTNL_LINK_RX_PACKETS);
  c.tx_packets = stat(link, RTNL_LINK_TX_PACKETS);
  c.rx_errors = stat(link, RTNL_LINK_RX_ERRORS);
  c.tx_errors = stat(link, RTNL_LINK_TX_ERRORS);
  c.rx_dropped = stat(link, RTNL_LINK_RX_DROPPED);
  c.tx_dropped = stat(link, RTNL_LINK_TX_DROPPED);
  return c;
}

}  // namespace

std::vector<InterfaceCounters> read_interface_counters(const std::string& netns_path) {
  const NetNs ns = NetNs::open(netns_path);
  return run_in_netns(ns, [] {
    nl::Socket sk = nl::connect(NETLINK_ROUTE);
    nl_cache* raw = nullptr;
    nl::check(rtnl_link_alloc_cache(sk.get(), AF_UNSPEC, &raw), "listing interfaces");
    nl::Cache cache(raw);
    std::vector<InterfaceCounters> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
      auto* link = reinterpret_cast<rtnl_link*>(o);
      if (rtnl_link_get_flags(link) & IFF_LOOPBACK) continue;
      out.push_back(counters_of(link));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  });
}

}  // namespace vpcri::net

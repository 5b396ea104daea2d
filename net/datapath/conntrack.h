// Conntrack cleanup for a released pod IP, over ctnetlink (NETLINK_NETFILTER) in the calling
// thread's network namespace. A stale entry (SYN_SENT lives 120 s) outlives the IP cooldown and
// would steer the next pod's traffic with the old pod's state, so the IP's entries go on release.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/cidr.h"

namespace vpcri::net {

struct ConntrackEntry {
  int protocol = 0;  // IPPROTO_*
  IpAddress orig_src, orig_dst, reply_src, reply_dst;
};

// Entries of ip's family whose original or reply tuple has `ip` as source or destination.
std::vector<ConntrackEntry> list_conntrack(const IpAddress& ip);

// Deletes those entries; returns how many were deleted. Entries that vanish meanwhile are fine.
size_t flush_conntrack(const IpAddress& ip);

// The same for several IPs at once. A dump walks the kernel's whole conntrack hash table (every
// namespace's buckets: about 7 ms for the default 262144 on a small VM, even when empty), so IPs
// are flushed together: one dump per address family, whatever their number.
size_t flush_conntrack(const std::vector<IpAddress>& ips);

}  // namespace vpcri::net

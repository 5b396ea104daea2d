// Connmark steering, as the AWS VPC CNI does when it SNATs: a pod on a secondary ENI whose
// connection leaves the VPC (or entered through the primary interface, e.g. a host port) must
// send that connection's packets out of the primary interface, where the SNAT to the node IP
// happens, not out of its own ENI (its from-pod rule, priority 1536). The nftables side (the ct
// mark on such connections, restored to the packet mark) is the `connmark` chain of vpcri's table
// (nat_table.h); this is the routing side:
//
//   ip rule 1024: fwmark 0x80/0x80 lookup main
//
// Like the rest of the datapath, it acts on the calling thread's network namespace.
#pragma once

#include <cstdint>

namespace vpcri::net {

inline constexpr uint32_t kConnmarkBit = 0x80;
inline constexpr const char* kConnmarkBitText = "0x80";  // the same, for nft scripts
inline constexpr uint32_t kConnmarkRulePriority = 1024;

// Adds the rule if `enabled` (once: applying again changes nothing), removes it otherwise.
void apply_connmark_rule(bool enabled);

}  // namespace vpcri::net

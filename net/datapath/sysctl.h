// The few sysctls the pod datapath needs. /proc/sys/net is resolved against the calling thread's
// network namespace, so run these inside the node netns (directly, or via run_in_netns).
#pragma once

#include <string>
#include <string_view>

namespace vpcri::net {

// net.ipv4.ip_forward=1: the node routes between pod veths and its uplinks.
void enable_ipv4_forwarding();

// net.ipv4.conf.<interface>.rp_filter=2 (loose), as the AWS CNI sets on the primary ENI: replies
// for secondary-ENI pods may arrive on an interface that is not the reverse route of their source.
void set_rp_filter_loose(std::string_view interface);

// net.ipv4.conf.<interface>.route_localnet=1 on a pod's host veth (as CNI portmap does on its
// bridge): host ports reached at 127.0.0.1 are DNATed to the pod with their 127.0.0.1 source,
// which the kernel otherwise drops as a martian on that interface (see nat_table.h).
void set_route_localnet(std::string_view interface);

// Reads a value under /proc/sys/net, e.g. read_net_sysctl("ipv4/ip_forward") -> "1".
std::string read_net_sysctl(std::string_view key);

}  // namespace vpcri::net

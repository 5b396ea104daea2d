// The AWS-VPC-CNI-style pod datapath: a veth pair per pod, the pod end as eth0 with its IP as
// /32 behind a fake gateway 169.254.1.1, the node end routed with a /32 and steered by ip rules.
// Everything is done in-process over netlink, in the calling thread's network namespace, which
// must be the NODE's (use run_in_netns to target another one): setup and teardown send raw
// rtnetlink batches (rtnl_batch.h: 4 round trips per pod, 2 per teardown), the rest uses libnl.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/cidr.h"
#include "net/datapath/host_veth_name.h"

namespace vpcri::net {

inline constexpr int kDefaultPodMtu = 9001;  // the ENI MTU
inline constexpr int kMinPodMtu = 576;
inline constexpr int kMaxPodMtu = 9001;
inline constexpr const char* kPodInterface = "eth0";
// On no interface: the pod reaches it through a permanent neighbour entry pointing at the host
// veth's MAC, so no proxy ARP and no address on the host veth are needed.
inline constexpr const char* kPodGateway = "169.254.1.1";
inline constexpr uint32_t kToPodRulePriority = 512;     // to <podIP> lookup main
inline constexpr uint32_t kFromPodRulePriority = 1536;  // from <podIP> lookup <ENI table>

struct PodNetwork {
  std::string host_veth;  // usually host_veth_name(namespace, pod)
  int pod_netns_fd = -1;  // borrowed: the pod's network namespace, open for the duration of the call
  IpAddress pod_ip;       // IPv4
  int mtu = kDefaultPodMtu;
  // Set when pod_ip belongs to a secondary ENI: the pod's traffic then leaves through that ENI's table.
  std::optional<uint32_t> eni_route_table;
};

// Creates the pod's veth pair (peer made directly inside the pod netns, in one RTM_NEWLINK) and
// configures both ends. A stale host veth with the same name (a crash before teardown) is
// replaced. On failure everything created so far is removed and a vpcri::Error is thrown;
// Errc::invalid_argument for a bad spec, Errc::already_exists if the pod netns already has eth0.
// Needs IPv4 forwarding in the node netns (enable_ipv4_forwarding(), once per node).
void setup_pod_network(const PodNetwork& spec);

// Removes the ip rules, the /32 route and the veth (the pod end goes with it). Idempotent:
// missing objects are fine, so it also cleans up after a crash half-way through setup or
// teardown. Rules are kept if the pod IP is already routed to another interface (the IP was
// reused by a newer pod). Without eni_route_table, a from-pod rule into any table is removed.
void teardown_pod_network(const std::string& host_veth, const IpAddress& pod_ip,
                          std::optional<uint32_t> eni_route_table = std::nullopt);

// Names of the veths whose name starts with `prefix`, sorted: the pods this node had wired up,
// for reconciliation at start.
std::vector<std::string> list_host_veths(std::string_view prefix = kDefaultHostVethPrefix);

}  // namespace vpcri::net

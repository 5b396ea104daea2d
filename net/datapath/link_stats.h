// Traffic counters of a network namespace's interfaces, as the kernel keeps them (RTM_GETLINK
// IFLA_STATS64): what the CRI's pod network stats and the cAdvisor-style pod metrics report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vpcri::net {

struct InterfaceCounters {
  std::string name;
  uint64_t rx_bytes = 0, tx_bytes = 0;
  uint64_t rx_packets = 0, tx_packets = 0;
  uint64_t rx_errors = 0, tx_errors = 0;
  uint64_t rx_dropped = 0, tx_dropped = 0;
};

// Every interface of the namespace at `netns_path` but loopback (as cAdvisor, which ignores
// "lo"), sorted by name. Read on a short-lived thread inside the namespace (run_in_netns), so the
// caller's thread never changes namespace. Throws Errc::not_found if the namespace is gone.
std::vector<InterfaceCounters> read_interface_counters(const std::string& netns_path);

}  // namespace vpcri::net

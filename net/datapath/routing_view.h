// What the kernel holds for pod IPs: the routes to them (any table) and the ip rules that name
// them, read over netlink in the calling thread's netns. The introspection API shows these beside
// what the datapath meant to make, so an operator sees drift (a rule deleted by hand, a route
// through the wrong veth).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/cidr.h"

namespace vpcri::net {

struct KernelRoute {
  std::string destination;  // "10.0.0.5/32"
  std::string device;       // "" when the route has no output interface (blackhole, ...)
  std::string gateway;      // "" when directly connected
  std::string table;        // "main", "local" or the table number
};

struct KernelRule {
  uint32_t priority = 0;
  std::string selector;  // "from 10.0.0.5/32", "to 10.0.0.5/32"
  std::string table;     // "main", "local" or the table number
};

struct KernelPodRouting {
  std::vector<KernelRoute> routes;  // routes whose destination is the pod IP/32
  std::vector<KernelRule> rules;    // rules from or to the pod IP/32
};

// "main" (254), "local" (255), "default" (253), else the number.
std::string route_table_name(uint32_t table);

// One dump of the IPv4 routes (all tables) and rules of the calling thread's netns, queried per
// pod IP. Throws vpcri::Error if the kernel cannot be asked.
class KernelRoutingSnapshot {
 public:
  KernelRoutingSnapshot();
  KernelPodRouting for_ip(const IpAddress& pod_ip) const;

 private:
  struct Route {
    std::string destination;  // CIDR text
    KernelRoute view;
  };
  struct Rule {
    std::string source, destination;  // CIDR text, "" when the rule does not match on it
    KernelRule view;
  };
  std::vector<Route> routes_;
  std::vector<Rule> rules_;
};

}  // namespace vpcri::net

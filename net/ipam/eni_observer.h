// Who wants to know the node's ENIs as IPAM holds them: the node datapath sets up each attached
// ENI's interface (route table, rules) and removes that when IPAM lets the ENI go. The provider
// knows nothing of it; IPAM calls the observer after each change of its ENI inventory.
#pragma once

#include <vector>

#include "net/ipam/provider.h"

namespace vpcri::net::ipam {

class EniObserver {
 public:
  virtual ~EniObserver() = default;
  // Every ENI the datastore holds now, by device number (secondary_ips left empty). Called at
  // restore, after every pool manager step that adds or removes an ENI (before a freed ENI is
  // detached, after a new one is attached and before it gets secondary IPs) and after every
  // reconcile (so failed work is retried). Calls never overlap and never hold IPAM's locks; the
  // observer handles its own errors (what escapes is logged).
  virtual void enis_changed(const std::vector<EniInfo>& enis) = 0;
};

}  // namespace vpcri::net::ipam

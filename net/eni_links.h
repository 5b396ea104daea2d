// The node side of IPAM's ENIs: an ipam::EniObserver that sets up the interface, route table
// and rule of every secondary ENI that has a MAC (the aws provider's: attached to the instance,
// present as ethN/ensN) and tears them down when IPAM lets the ENI go (eni_link.h). ENIs without
// a MAC (the local provider's virtual ENIs) and the primary ENI (main table) need nothing here.
//
// Errors are logged and retried at the next change or reconcile, never thrown: one ENI whose
// interface is late must not stop the pool. The first report (IPAM's restore, before vpcrid
// serves) does not wait for a missing interface: the checkpoint's ENI may have been detached
// while vpcrid was down, and the reconcile that follows says so. An ENI reported once is torn
// down when IPAM lets it go even if it was never wired by this process: a run before a crash may
// have left its rule. Kernel calls run in the calling thread's netns (the node's: the pool
// manager thread and restore run there).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "net/datapath/eni_link.h"
#include "net/ipam/eni_observer.h"

namespace vpcri::net {

class EniLinks : public ipam::EniObserver {
 public:
  EniLinks(int mtu, std::chrono::milliseconds wait_timeout) : mtu_(mtu), wait_timeout_(wait_timeout) {}

  void enis_changed(const std::vector<ipam::EniInfo>& enis) override;

  // The route table a pod holding one of this ENI's IPs must use (its from-pod rule): the ENI's
  // table for a secondary ENI with a MAC, nullopt otherwise (main table).
  std::optional<uint32_t> pod_route_table(const std::string& eni_id) const;
  // Ids of the ENIs whose interface is set up.
  std::vector<std::string> wired() const;

 private:
  EniLink link_of(const ipam::EniInfo& eni) const;

  const int mtu_;
  const std::chrono::milliseconds wait_timeout_;
  std::mutex apply_mu_;        // enis_changed calls, one at a time
  mutable std::mutex mu_;      // the maps below; never held across kernel calls
  std::map<std::string, ipam::EniInfo> secondary_;  // what IPAM holds: secondary ENIs with a MAC
  std::map<std::string, EniLink> wired_;            // set up in the kernel
  std::map<std::string, EniLink> unwired_;          // reported, not (yet) set up: torn down when let go
  bool first_report_ = true;                        // guarded by apply_mu_
};

}  // namespace vpcri::net

// IPAM as the CRI layer uses it: datastore + checkpoint + pool manager over one provider.
//
//   LocalProvider provider({.node_range = pod_cidr});
//   Ipam ipam(provider, {.checkpoint_path = "/var/lib/vpcri/ipam.json"});
//   ipam.restore(live_sandbox_ids);  // before serving: throws on a damaged checkpoint
//   ipam.start();                    // pool manager thread; ready() feeds NetworkReady
//   Allocation a = ipam.allocate(sandbox_id, ns, name);  // never waits on the provider
//   ipam.release(sandbox_id);
//   for (auto& f : ipam.drain_flush_requests()) ...      // flush conntrack/neighbours for f.ip
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "net/ipam/checkpoint.h"
#include "net/ipam/datastore.h"
#include "net/ipam/provider.h"
#include "net/ipam/warm_pool.h"

namespace vpcri::net::ipam {

struct IpamConfig {
  std::string checkpoint_path;  // the directory must exist
  std::chrono::seconds cooldown{30};
  WarmPoolConfig pool;  // its clock drives the datastore too
};

class Ipam {
 public:
  // provider must outlive the Ipam.
  Ipam(Provider& provider, IpamConfig config);
  ~Ipam();
  Ipam(const Ipam&) = delete;
  Ipam& operator=(const Ipam&) = delete;

  // Loads the checkpoint (if any), hands its ENIs to the provider (adopt_enis), rebuilds the
  // datastore keeping only live sandboxes' allocations, then records every later change in the
  // checkpoint. Call once, before start() and before serving. Throws on a damaged checkpoint or
  // one the provider refuses (e.g. the local node range changed): the caller decides.
  checkpoint::RestoreReport restore(const std::set<std::string>& live_sandbox_ids);

  void start();  // throws Error(failed_precondition) if restore() was not called
  void stop();

  Allocation allocate(const std::string& sandbox_id, const std::string& pod_namespace, const std::string& pod_name);
  std::optional<Allocation> release(const std::string& sandbox_id);
  std::optional<Allocation> lookup(const std::string& sandbox_id) const { return datastore_.lookup(sandbox_id); }
  std::vector<FlushRequest> drain_flush_requests() { return datastore_.drain_flush_requests(); }

  bool ready() const { return pool_.ready(); }
  WarmPoolStatus status() const { return pool_.status(); }
  PoolStats stats() { return datastore_.stats(); }

  Datastore& datastore() { return datastore_; }
  WarmPool& pool() { return pool_; }

 private:
  Provider& provider_;
  const IpamConfig config_;
  Datastore datastore_;
  WarmPool pool_;
  bool restored_ = false;
};

}  // namespace vpcri::net::ipam

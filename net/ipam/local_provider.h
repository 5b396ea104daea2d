// The embedded provider: no cloud, a node range (the pod CIDR kubelet sends in
// UpdateRuntimeConfig, or a configured range) carved into virtual ENIs. ENI k (device k) owns the
// k-th block of ips_per_eni addresses after the network address: the block's first address is
// the ENI's primary IP (never given to a pod), the others are its secondary IPs, handed out
// lowest first. The carve depends only on the configuration, so the same range always yields the
// same ENIs and IPs; which ENIs are attached and which IPs assigned comes back from the IPAM
// checkpoint (adopt_enis) after a restart.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "net/ipam/provider.h"

namespace vpcri::net::ipam {

struct LocalProviderConfig {
  Cidr node_range;       // IPv4 only for now
  int max_enis = 3;      // like a small instance; clamped to what fits in the range
  int ips_per_eni = 10;  // primary IP included, so 9 pod IPs per ENI
  std::string instance_id = "local";
  std::string subnet_id = "subnet-local";
};

class LocalProvider : public Provider {
 public:
  // Throws Error(invalid_argument) if the range cannot hold even one ENI's block.
  explicit LocalProvider(LocalProviderConfig config);

  std::string name() const override { return "local"; }
  NodeInfo describe_node() override;
  std::vector<EniInfo> list_enis() override;
  EniInfo create_eni() override;
  std::vector<IpAddress> assign_ips(const std::string& eni_id, int count) override;
  void unassign_ips(const std::string& eni_id, const std::vector<IpAddress>& ips) override;
  void delete_eni(const std::string& eni_id) override;

  // Takes back attached ENIs and assigned IPs from a checkpoint. Throws
  // Error(failed_precondition) naming the first ENI/IP that does not fit the carve (the node
  // range or the limits changed since the checkpoint was written); nothing is changed then.
  void adopt_enis(const std::vector<EniInfo>& from_checkpoint) override;

  int max_enis() const { return max_enis_; }

 private:
  // Offsets (from the range's network address) of the secondary IPs assigned to each device.
  using Assigned = std::set<uint32_t>;

  uint32_t block_start(int device) const;  // offset of the device's primary IP
  IpAddress address_at(uint32_t offset) const;
  std::string eni_id(int device) const;
  int device_of(const std::string& eni_id) const;  // -1 if not one of ours
  EniInfo describe_locked(int device) const;

  const LocalProviderConfig config_;
  int max_enis_ = 0;
  mutable std::mutex mu_;
  std::vector<std::optional<Assigned>> attached_;  // index = device number; nullopt = not attached
};

}  // namespace vpcri::net::ipam

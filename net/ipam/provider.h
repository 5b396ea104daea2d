// Where the node's addresses come from: the interface between IPAM and a cloud (or the embedded
// local range). Operations are modelled on EC2 + instance metadata: ENIs (network interfaces)
// attached to the node, each with one primary IP (never given to a pod) and secondary IPs.
//
// Calls are blocking and may be slow, fail or be throttled. Only the pool manager (WarmPool)
// calls a provider, and only from its own worker thread, one call at a time: the RPC path
// (allocate/release) never waits on a provider, and implementations need no locking of their own.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "net/cidr.h"

namespace vpcri::net::ipam {

struct NodeInfo {
  std::string instance_id;
  std::string instance_type;
  int max_enis = 0;     // ENIs the instance may have attached, the primary included
  int ips_per_eni = 0;  // addresses per ENI, its primary IP included (pods get ips_per_eni - 1)
  std::string primary_eni_id;
  int primary_device_number = 0;
  std::string subnet_id;
  Cidr subnet_cidr;
  IpAddress primary_ip;  // the node's own address (primary IP of the primary ENI)
  std::vector<Cidr> vpc_cidrs;  // the VPC's IPv4 CIDRs (aws; empty for local): pod traffic to them is not SNATed
};

struct EniInfo {
  std::string id;
  std::string mac;        // "0a:1b:..."; how the node finds the ENI's interface (empty: local provider)
  int device_number = 0;  // 0 = the instance's primary ENI
  std::string subnet_id;
  Cidr subnet_cidr;
  IpAddress primary_ip;                // the ENI's own address; never given to a pod
  std::vector<IpAddress> secondary_ips;  // addresses pods may use

  bool operator==(const EniInfo&) const = default;
};

// Route table holding a secondary ENI's routes: device number + 1 (network card 0), as the AWS
// VPC CNI does. The primary ENI (device 0) uses the main table, hence no id.
inline int eni_route_table(int device_number) { return device_number + 1; }

// How a provider call failed; the pool manager reacts differently to each.
enum class ProviderErrc {
  throttled,               // the API rate-limited us: retry with exponential backoff
  insufficient_addresses,  // the subnet has no free addresses: pause growth (120 s by default)
  eni_limit_reached,       // the instance cannot take another ENI (or the ENI another IP)
  other,                   // anything else: retry with backoff
};

const char* provider_errc_name(ProviderErrc code);

class ProviderError : public Error {
 public:
  ProviderError(ProviderErrc kind, const std::string& message)
      : Error(kind == ProviderErrc::other || kind == ProviderErrc::throttled ? Errc::unavailable
                                                                            : Errc::resource_exhausted,
              message),
        kind_(kind) {}
  ProviderErrc kind() const { return kind_; }

 private:
  ProviderErrc kind_;
};

class Provider {
 public:
  virtual ~Provider() = default;

  // Short name for logs and messages ("local", "aws").
  virtual std::string name() const = 0;

  // The instance, its limits and its primary ENI (DescribeInstances/DescribeInstanceTypes + metadata).
  virtual NodeInfo describe_node() = 0;

  // Every ENI attached to the node with its addresses, the primary ENI included.
  virtual std::vector<EniInfo> list_enis() = 0;

  // Creates an ENI in the node's subnet and attaches it at the lowest free device number.
  // The new ENI has only its primary IP; add secondary IPs with assign_ips.
  virtual EniInfo create_eni() = 0;

  // Adds `count` secondary IPs to the ENI and returns them (AssignPrivateIpAddresses).
  virtual std::vector<IpAddress> assign_ips(const std::string& eni_id, int count) = 0;

  // Removes these secondary IPs from the ENI (UnassignPrivateIpAddresses).
  virtual void unassign_ips(const std::string& eni_id, const std::vector<IpAddress>& ips) = 0;

  // Detaches and deletes the ENI. Never called for the primary ENI.
  virtual void delete_eni(const std::string& eni_id) = 0;

  // A provider with no memory of its own (local) takes its attached ENIs back from the IPAM
  // checkpoint at start; a cloud provider knows them already and ignores this.
  virtual void adopt_enis(const std::vector<EniInfo>& from_checkpoint) { (void)from_checkpoint; }

  // Called by the pool manager at each reconcile, after list_enis: a cloud provider deletes ENIs
  // it made for this node that were never attached or were left detached (a crash between
  // create and attach, a detach whose delete failed), once they are older than a grace period.
  // Rate-limits itself; returns how many ENIs it deleted. Throws ProviderError.
  virtual int sweep_leaked() { return 0; }
};

}  // namespace vpcri::net::ipam

// The `aws` IPAM provider: turns the pool manager's requests into EC2 calls. EC2 is the truth
// for what is attached (metadata lags after an attach or assign); IMDS only says who we are.
//
//   describe_node  IMDS identity, DescribeInstances (primary ENI = device 0), DescribeInstanceTypes
//                  (built-in table when denied or failing), DescribeSubnets (the subnet's CIDR),
//                  the VPC CIDRs from metadata.
//   list_enis      DescribeNetworkInterfaces filtered by attachment.instance-id.
//   create_eni     CreateNetworkInterface in the configured subnet with the most free addresses
//                  (default: the primary ENI's), the configured security groups (default: the
//                  primary ENI's), tagged with the cluster, the instance and a creation time;
//                  AttachNetworkInterface at the lowest free device index; DeleteOnTermination.
//                  Whatever fails after the create deletes the ENI again (no leak).
//   assign_ips     AssignPrivateIpAddresses, or with prefix delegation Ipv4PrefixCount (/28s),
//                  falling back to single IPs on InsufficientCidrBlocks.
//   delete_eni     Detach, wait until available (bounded), delete.
//   sweep_leaked   Deletes this node's tagged ENIs that are available and older than the grace.
//
// Prefix delegation: a /28 gives 16 addresses but the pool asks for a count. The provider hands
// out exactly the count and keeps the rest of the prefix "parked" (assigned in EC2, unknown to
// the pool; list_enis leaves them out); the next assign_ips takes parked addresses before asking
// EC2. unassign_ips of an address in a prefix parks it; a prefix is unassigned in EC2 only when
// all its 16 addresses are parked. Parked state lives in memory: after a restart list_enis
// reports whole prefixes again, which only makes the pool bigger until it shrinks.
// Each ENI slot (IPv4 per ENI − 1) holds one prefix, so NodeInfo.ips_per_eni is
// (limit − 1) × 16 + 1. Single IPs from the fallback use a slot each, so the fallback asks for
// no more than the ENI's free slots; once they are used, assign_ips says "ENI limit reached" and
// the pool counts that ENI as full (until its next reconcile) and grows on another ENI.
//
// Errors become ipam::ProviderError with a message naming the cause and the fix.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "net/aws/ec2_api.h"
#include "net/aws/instance_metadata.h"
#include "net/ipam/provider.h"

namespace vpcri::net::aws {

// Tags on every ENI the provider creates (the AWS VPC CNI's names, so its tooling recognises them).
inline constexpr const char* kClusterTag = "cluster.k8s.amazonaws.com/name";
inline constexpr const char* kInstanceTag = "node.k8s.amazonaws.com/instance_id";
inline constexpr const char* kCreatedAtTag = "node.k8s.amazonaws.com/createdAt";

struct AwsProviderOptions {
  std::vector<std::string> subnets;          // for new ENIs; empty: the primary ENI's subnet
  std::vector<std::string> security_groups;  // for new ENIs; empty: the primary ENI's
  std::string cluster_name;                  // kClusterTag value; empty: no cluster tag
  bool prefix_delegation = false;            // ignored (with a warning) on non-nitro types
  std::chrono::seconds leaked_eni_grace{300};
  std::chrono::seconds sweep_interval{300};  // sweep_leaked runs at most this often
  // delete_eni polls DescribeNetworkInterfaces until the detach completes, at most this long.
  std::chrono::milliseconds detach_poll_interval{500};
  std::chrono::milliseconds detach_timeout{30000};
  // Wall time (tags, the sweep's age test) and sleeping; tests inject both.
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
  std::function<void(std::chrono::milliseconds)> sleep;  // empty: std::this_thread::sleep_for
};

class AwsProvider : public ipam::Provider {
 public:
  // ec2 and imds must outlive the provider.
  AwsProvider(Ec2Api& ec2, InstanceMetadata& imds, AwsProviderOptions options);

  std::string name() const override { return "aws"; }
  ipam::NodeInfo describe_node() override;
  std::vector<ipam::EniInfo> list_enis() override;
  ipam::EniInfo create_eni() override;
  std::vector<IpAddress> assign_ips(const std::string& eni_id, int count) override;
  void unassign_ips(const std::string& eni_id, const std::vector<IpAddress>& ips) override;
  void delete_eni(const std::string& eni_id) override;
  int sweep_leaked() override;

  bool prefix_delegation() const { return prefix_delegation_; }

 private:
  void require_described(const char* what) const;
  ipam::EniInfo to_eni_info(const NetworkInterface& eni);
  Cidr subnet_cidr(const std::string& subnet_id);
  std::string pick_subnet();
  int free_device_index();
  void remove_created_eni(const std::string& eni_id, const std::string& attachment_id);
  void wait_detached_and_delete(const std::string& eni_id);
  std::vector<IpAddress> assign_prefix_ips(const std::string& eni_id, int count);
  std::string subnet_of(const std::string& eni_id);
  ipam::ProviderError no_free_ip(const std::string& subnet_id, const std::string& cause);
  std::string next_client_token();
  void sleep_for(std::chrono::milliseconds d);

  Ec2Api& ec2_;
  InstanceMetadata& imds_;
  AwsProviderOptions options_;

  // Learnt by describe_node.
  bool described_ = false;
  std::string instance_id_;
  std::string instance_type_;
  int max_enis_ = 0;
  int ips_per_eni_limit_ = 0;  // EC2's IPv4 addresses (or prefix slots) per ENI, its primary included
  std::string primary_subnet_;
  std::vector<std::string> primary_security_groups_;
  bool prefix_delegation_ = false;
  std::map<std::string, Cidr> subnet_cidrs_;  // cache: a subnet's CIDR never changes
  std::map<std::string, std::string> eni_subnet_;  // ENI id -> subnet id, for error messages
  // Prefix delegation: ENI id -> addresses of its prefixes the pool does not hold.
  std::map<std::string, std::vector<IpAddress>> parked_;
  std::chrono::system_clock::time_point last_sweep_{};
  int token_counter_ = 0;
};

// EC2's answer as a ProviderError: kind from the code, message naming the cause and the fix.
// `action` is the EC2 action (e.g. "AttachNetworkInterface"), named in permission errors.
ipam::ProviderError provider_error(const Ec2Error& error, const std::string& action);

}  // namespace vpcri::net::aws

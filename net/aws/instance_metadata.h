// What the node learns about itself from the EC2 instance metadata service (IMDSv2 only):
// implemented by ImdsClient (net/aws/imds_client.*, HTTP to 169.254.169.254 with a session
// token) and by a fake beside the provider's tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/aws/credentials.h"
#include "net/cidr.h"

namespace vpcri::net::aws {

struct InstanceIdentity {
  std::string instance_id;        // meta-data/instance-id
  std::string instance_type;      // meta-data/instance-type
  std::string availability_zone;  // meta-data/placement/availability-zone
  std::string region;             // meta-data/placement/region
  std::string primary_mac;        // meta-data/mac
};

// One attached ENI as meta-data/network/interfaces/macs/<mac>/ describes it. Metadata lags EC2
// after an attach or assign: callers must not take a missing IP as proof it is gone.
struct MetadataEni {
  std::string mac;
  std::string interface_id;
  int device_number = 0;
  std::string subnet_id;
  Cidr subnet_cidr;                         // subnet-ipv4-cidr-block
  std::vector<IpAddress> local_ipv4s;       // local-ipv4s, the ENI's primary first
  std::vector<Cidr> ipv4_prefixes;          // ipv4-prefix (may be absent: empty)
  std::vector<Cidr> vpc_cidrs;              // vpc-ipv4-cidr-blocks
  std::vector<std::string> security_group_ids;
};

class InstanceMetadata {
 public:
  virtual ~InstanceMetadata() = default;
  virtual InstanceIdentity identity() = 0;
  virtual std::vector<MetadataEni> enis() = 0;  // sorted by device number
  // The instance role's credentials (meta-data/iam/security-credentials/<role>); nullopt when
  // the instance has no role.
  virtual std::optional<Credentials> role_credentials() = 0;
};

}  // namespace vpcri::net::aws

// Test-only: a node in a fake VPC for the aws provider's tests. FakeEc2Api holds a VPC with a
// /24 subnet, a t3.medium-like type (3 ENIs × 6 IPv4) and the node's instance; FakeInstanceMetadata
// says who the node is. Wall time and sleeps are manual.
#pragma once

#include <chrono>
#include <string>

#include "net/aws/aws_provider.h"
#include "net/aws/fake_ec2_api.h"
#include "net/aws/fake_instance_metadata.h"

namespace vpcri::net::aws::testing {

inline constexpr const char* kNodeInstance = "i-0node";
inline constexpr const char* kNodeSubnet = "subnet-0a";

struct AwsWorld {
  FakeEc2Api ec2;
  FakeInstanceMetadata imds;
  std::string primary_eni;
  std::chrono::system_clock::time_point wall = std::chrono::system_clock::from_time_t(1800000000);
  std::chrono::milliseconds slept{0};

  explicit AwsWorld(const std::string& type = "t3.medium", int max_enis = 3, int ips_per_eni = 6,
                    const std::string& subnet_cidr = "10.0.1.0/24") {
    ec2.add_subnet(kNodeSubnet, subnet_cidr);
    ec2.add_instance_type({type, max_enis, ips_per_eni, true});
    primary_eni = ec2.add_instance(kNodeInstance, type, kNodeSubnet, {"sg-node"});
    auto primary = *ec2.find_eni(primary_eni);
    imds.identity_value = {kNodeInstance, type, "us-east-1a", "us-east-1", primary.mac_address};
    MetadataEni m;
    m.mac = primary.mac_address;
    m.interface_id = primary.id;
    m.device_number = 0;
    m.subnet_id = kNodeSubnet;
    m.subnet_cidr = *Cidr::parse(subnet_cidr);
    m.local_ipv4s = {primary.private_ips.front().address};
    m.vpc_cidrs = {*Cidr::parse("10.0.0.0/16"), *Cidr::parse("100.64.0.0/16")};
    m.security_group_ids = {"sg-node"};
    imds.enis_value = {m};
  }

  AwsProviderOptions options() {
    AwsProviderOptions o;
    o.cluster_name = "c1";
    o.now = [this] { return wall; };
    o.sleep = [this](std::chrono::milliseconds d) { slept += d; };
    return o;
  }

  // ENIs EC2 shows attached to the node, the primary included.
  int attached_enis() const {
    int n = 0;
    for (const NetworkInterface& e : ec2.all_enis()) n += e.instance_id == kNodeInstance ? 1 : 0;
    return n;
  }
};

inline std::string tag_of(const NetworkInterface& eni, const std::string& key) {
  for (const Tag& t : eni.tags) {
    if (t.key == key) return t.value;
  }
  return "<none>";
}

}  // namespace vpcri::net::aws::testing

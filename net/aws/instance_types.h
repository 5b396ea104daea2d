// Network limits of common EC2 instance types, built in, for when DescribeInstanceTypes is denied
// (a node role without ec2:DescribeInstanceTypes) or fails, and for `vpcrictl max-pods`, which
// runs where there are no credentials (node image builds). Values from the AWS VPC CNI's
// generated table (pkg/vpc/vpc_ip_resource_limit.go, misc/eni-max-pods.txt).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpcri::net::aws {

struct InstanceTypeLimits {
  std::string_view instance_type;
  int max_enis = 0;     // MaximumNetworkInterfaces (network card 0)
  int ips_per_eni = 0;  // Ipv4AddressesPerInterface, the ENI's primary IP included
  int vcpus = 0;        // VCpuInfo.DefaultVCpus (caps max pods with prefix delegation)
  bool nitro = false;   // Hypervisor nitro: /28 prefix delegation is possible
};

std::optional<InstanceTypeLimits> builtin_instance_type(std::string_view instance_type);
std::vector<std::string_view> builtin_instance_type_names();

// Addresses one /28 prefix gives.
inline constexpr int kIpsPerPrefix = 16;

// Kubelet --max-pods for a type, as the EKS AMI's max-pods-calculator.sh computes it:
//   secondary IPs:     ENIs × (IPs per ENI − 1) + 2   (the +2: host-network pods such as
//                      aws-node and kube-proxy need no VPC address)
//   prefix delegation: ENIs × (IPs per ENI − 1) × 16 + 2, then capped at 110 when the type has
//                      30 vCPUs or fewer, else at 250 (the script: `if [ "$CPU_COUNT" -gt 30 ]`
//                      → min(250, n), else min(110, n); awslabs/amazon-eks-ami
//                      files/max-pods-calculator.sh). The script applies that cap to its
//                      "recommended" value in both modes; the secondary-IP number here is the
//                      uncapped one of eni-max-pods.txt, which the EKS bootstrap uses by default
//                      and whose IPs the node really has. A non-nitro type cannot take prefixes:
//                      prefix_delegation is then ignored, as the script does.
int max_pods(const InstanceTypeLimits& limits, bool prefix_delegation);

}  // namespace vpcri::net::aws

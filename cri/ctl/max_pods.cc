#include "cri/ctl/max_pods.h"

#include "cri/ctl/flags.h"
#include "net/aws/instance_types.h"

namespace vpcri::ctl {

void max_pods_command(const std::vector<std::string>& args, std::ostream& out) {
  std::string type;
  bool prefix_delegation = false;
  Flags flags("max-pods", "max-pods --instance-type TYPE [--prefix-delegation]",
              "Print kubelet's --max-pods for an EC2 instance type with network.provider aws:\n"
              "ENIs x (IPv4 per ENI - 1) + 2, or with /28 prefix delegation (nitro types)\n"
              "ENIs x (IPv4 per ENI - 1) x 16 + 2 capped at 110 (30 vCPUs or fewer) or 250,\n"
              "as the EKS AMI's max-pods-calculator.sh. From vpcri's built-in table of types.");
  flags.add("--instance-type", "TYPE", "EC2 instance type, e.g. m5.large", &type);
  flags.add("--prefix-delegation", "network.aws.prefix_delegation is on", &prefix_delegation);
  if (!flags.parse(args).empty()) flags.usage_error("takes no positional arguments");
  if (type.empty()) flags.usage_error("--instance-type is required");
  auto limits = net::aws::builtin_instance_type(type);
  if (!limits) {
    flags.usage_error("instance type \"" + type +
                      "\" is not in vpcri's built-in table (families c5, c6i, m5, m6i, r5, r6i, t2, t3, t3a); compute "
                      "it from DescribeInstanceTypes' MaximumNetworkInterfaces and Ipv4AddressesPerInterface");
  }
  out << net::aws::max_pods(*limits, prefix_delegation) << "\n";
}

}  // namespace vpcri::ctl

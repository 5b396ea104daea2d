// `vpcrictl max-pods`: kubelet's --max-pods for an EC2 instance type with the aws provider, from
// the built-in table (net/aws/instance_types.h). Needs no runtime and no AWS credentials, so
// node image builds can call it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace vpcri::ctl {

// Parses `--instance-type T [--prefix-delegation]`, prints the number and a newline to `out`.
// Throws std::invalid_argument (usage) for bad flags or an unknown type, HelpRequested for -h.
void max_pods_command(const std::vector<std::string>& args, std::ostream& out);

}  // namespace vpcri::ctl

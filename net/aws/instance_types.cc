#include "net/aws/instance_types.h"

#include <algorithm>
#include <array>

namespace vpcri::net::aws {
namespace {

// Sorted by name (binary search). Families: c5, c6i, m5, m6i, r5, r6i (nitro), t2 (xen), t3, t3a.
constexpr InstanceTypeLimits kTypes[] = {
    {"c5.12xlarge", 8, 30, 48, true},
    {"c5.18xlarge", 15, 50, 72, true},
    {"c5.24xlarge", 15, 50, 96, true},
    {"c5.2xlarge", 4, 15, 8, true},
    {"c5.4xlarge", 8, 30, 16, true},
    {"c5.9xlarge", 8, 30, 36, true},
    {"c5.large", 3, 10, 2, true},
    {"c5.xlarge", 4, 15, 4, true},
    {"c6i.12xlarge", 8, 30, 48, true},
    {"c6i.16xlarge", 15, 50, 64, true},
    {"c6i.24xlarge", 15, 50, 96, true},
    {"c6i.2xlarge", 4, 15, 8, true},
    {"c6i.32xlarge", 15, 50, 128, true},
    {"c6i.4xlarge", 8, 30, 16, true},
    {"c6i.8xlarge", 8, 30, 32, true},
    {"c6i.large", 3, 10, 2, true},
    {"c6i.xlarge", 4, 15, 4, true},
    {"m5.12xlarge", 8, 30, 48, true},
    {"m5.16xlarge", 15, 50, 64, true},
    {"m5.24xlarge", 15, 50, 96, true},
    {"m5.2xlarge", 4, 15, 8, true},
    {"m5.4xlarge", 8, 30, 16, true},
    {"m5.8xlarge", 8, 30, 32, true},
    {"m5.large", 3, 10, 2, true},
    {"m5.xlarge", 4, 15, 4, true},
    {"m6i.12xlarge", 8, 30, 48, true},
    {"m6i.16xlarge", 15, 50, 64, true},
    {"m6i.24xlarge", 15, 50, 96, true},
    {"m6i.2xlarge", 4, 15, 8, true},
    {"m6i.32xlarge", 15, 50, 128, true},
    {"m6i.4xlarge", 8, 30, 16, true},
    {"m6i.8xlarge", 8, 30, 32, true},
    {"m6i.large", 3, 10, 2, true},
    {"m6i.xlarge", 4, 15, 4, true},
    {"r5.12xlarge", 8, 30, 48, true},
    {"r5.16xlarge", 15, 50, 64, true},
    {"r5.24xlarge", 15, 50, 96, true},
    {"r5.2xlarge", 4, 15, 8, true},
    {"r5.4xlarge", 8, 30, 16, true},
    {"r5.8xlarge", 8, 30, 32, true},
    {"r5.large", 3, 10, 2, true},
    {"r5.xlarge", 4, 15, 4, true},
    {"r6i.12xlarge", 8, 30, 48, true},
    {"r6i.16xlarge", 15, 50, 64, true},
    {"r6i.24xlarge", 15, 50, 96, true},
    {"r6i.2xlarge", 4, 15, 8, true},
    {"r6i.32xlarge", 15, 50, 128, true},
    {"r6i.4xlarge", 8, 30, 16, true},
    {"r6i.8xlarge", 8, 30, 32, true},
    {"r6i.large", 3, 10, 2, true},
    {"r6i.xlarge", 4, 15, 4, true},
    {"t2.2xlarge", 3, 15, 8, false},
    {"t2.large", 3, 12, 2, false},
    {"t2.medium", 3, 6, 2, false},
    {"t2.micro", 2, 2, 1, false},
    {"t2.nano", 2, 2, 1, false},
    {"t2.small", 3, 4, 1, false},
    {"t2.xlarge", 3, 15, 4, false},
    {"t3.2xlarge", 4, 15, 8, true},
    {"t3.large", 3, 12, 2, true},
    {"t3.medium", 3, 6, 2, true},
    {"t3.micro", 2, 2, 2, true},
    {"t3.nano", 2, 2, 2, true},
    {"t3.small", 3, 4, 2, true},
    {"t3.xlarge", 4, 15, 4, true},
    {"t3a.2xlarge", 4, 15, 8, true},
    {"t3a.large", 3, 12, 2, true},
    {"t3a.medium", 3, 6, 2, true},
    {"t3a.micro", 2, 2, 2, true},
    {"t3a.nano", 2, 2, 2, true},
    {"t3a.small", 2, 4, 2, true},
    {"t3a.xlarge", 4, 15, 4, true},
};

constexpr bool sorted_by_name() {
  for (size_t i = 1; i < std::size(kTypes); ++i) {
    if (!(kTypes[i - 1].instance_type < kTypes[i].instance_type)) return false;
  }
  return true;
}
static_assert(sorted_by_name(), "kTypes must stay sorted by name");

}  // namespace

std::optional<InstanceTypeLimits> builtin_instance_type(std::string_view instance_type) {
  auto it = std::lower_bound(std::begin(kTypes), std::end(kTypes), instance_type,
                             [](const InstanceTypeLimits& t, std::string_view name) { return t.instance_type < name; });
  if (it == std::end(kTypes) || it->instance_type != instance_type) return std::nullopt;
  return *it;
}

std::vector<std::string_view> builtin_instance_type_names() {
  std::vector<std::string_view> out;
  for (const InstanceTypeLimits& t : kTypes) out.push_back(t.instance_type);
  return out;
}

int max_pods(const InstanceTypeLimits& limits, bool prefix_delegation) {
  int slots = limits.max_enis * (limits.ips_per_eni - 1);
  if (!prefix_delegation || !limits.nitro) return slots + 2;
  int pods = slots * kIpsPerPrefix + 2;
  return std::min(pods, limits.vcpus > 30 ? 250 : 110);
}

}  // namespace vpcri::net::aws

// The resource limits of one container or pod cgroup: CRI's LinuxContainerResources without
// protobuf, so runtime/ stays free of gRPC. The CRI layer copies the request into this.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace vpcri::runtime::cgroup {

// Numbers follow CRI's convention: 0 means "not set, leave the cgroup's current value alone";
// where the kernel has an "unlimited" value, a negative number asks for it (-1 = max).
struct LinuxResources {
  int64_t cpu_period = 0;  // CFS period in microseconds
  int64_t cpu_quota = 0;   // CFS quota in microseconds per period; < 0 = unlimited
  int64_t cpu_shares = 0;  // relative weight, v1 scale (2..262144); v2 converts it to cpu.weight
  int64_t memory_limit_in_bytes = 0;       // < 0 = unlimited
  int64_t memory_swap_limit_in_bytes = 0;  // memory + swap, v1 semantics; < 0 = unlimited swap
  int64_t pids_limit = 0;                  // from the pod config; < 0 = unlimited
  std::string cpuset_cpus;                 // "0-3,6"; empty = not set
  std::string cpuset_mems;                 // "0"; empty = not set
  // Page size as CRI spells it ("2MB", "1GB", "64KB") -> limit in bytes.
  std::map<std::string, uint64_t> hugepage_limits;
  // cgroup v2 only: raw interface file name ("memory.high") -> value written verbatim, last.
  std::map<std::string, std::string> unified;
};

}  // namespace vpcri::runtime::cgroup

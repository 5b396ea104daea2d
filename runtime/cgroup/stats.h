// Usage numbers of one cgroup, computed the way kubelet / cAdvisor compute them so the values
// vpcri reports through CRI match what `kubectl top` users expect.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace vpcri::runtime::cgroup {

// Each field is nullopt when the host does not provide it (controller not mounted / enabled).
struct CgroupStats {
  std::optional<uint64_t> cpu_usage_ns;              // cumulative CPU time of all tasks
  std::optional<uint64_t> memory_usage_bytes;        // page cache included
  std::optional<uint64_t> memory_working_set_bytes;  // usage - inactive_file, floored at 0
  std::optional<uint64_t> memory_rss_bytes;          // anonymous memory (v1 total_rss, v2 anon)
  std::optional<uint64_t> page_faults;
  std::optional<uint64_t> major_page_faults;
  std::optional<uint64_t> pids_current;
};

// v1: `dirs` maps each available controller to this cgroup's directory in its hierarchy.
// Uses cpuacct.usage, memory.usage_in_bytes, memory.stat total_* (hierarchical), pids.current.
CgroupStats read_stats_v1(const std::map<std::string, std::string>& dirs);

// v2: cpu.stat usage_usec * 1000, memory.current, memory.stat, pids.current.
CgroupStats read_stats_v2(const std::string& dir);

// pids.current of `dir` alone (v1: the pids controller's directory); nullopt without it.
std::optional<uint64_t> read_pids_current(const std::string& dir);

}  // namespace vpcri::runtime::cgroup

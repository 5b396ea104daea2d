#include "runtime/cgroup/stats.h"

#include "runtime/cgroup/files.h"

namespace vpcri::runtime::cgroup {
namespace {

std::optional<uint64_t> read_number(const std::string& dir, const char* name) {
  auto text = read_cgroup_file_if_exists(dir, name);
  if (!text) return std::nullopt;
  return parse_u64(*text, dir + "/" + name);
}

// cAdvisor's working set: what the kernel could not reclaim without I/O.
std::optional<uint64_t> working_set(std::optional<uint64_t> usage, std::optional<uint64_t> inactive_file) {
  if (!usage) return std::nullopt;
  uint64_t inactive = inactive_file.value_or(0);
  return *usage > inactive ? *usage - inactive : 0;
}

}  // namespace

CgroupStats read_stats_v1(const std::map<std::string, std::string>& dirs) {
  CgroupStats s;
  if (auto it = dirs.find("cpuacct"); it != dirs.end()) s.cpu_usage_ns = read_number(it->second, "cpuacct.usage");
  if (auto it = dirs.find("memory"); it != dirs.end()) {
    s.memory_usage_bytes = read_number(it->second, "memory.usage_in_bytes");
    if (auto stat = read_cgroup_file_if_exists(it->second, "memory.stat")) {
      s.memory_working_set_bytes = working_set(s.memory_usage_bytes, flat_keyed_value(*stat, "total_inactive_file"));
      s.memory_rss_bytes = flat_keyed_value(*stat, "total_rss");
      s.page_faults = flat_keyed_value(*stat, "total_pgfault");
      s.major_page_faults = flat_keyed_value(*stat, "total_pgmajfault");
    }
  }
  if (auto it = dirs.find("pids"); it != dirs.end()) s.pids_current = read_pids_current(it->second);
  return s;
}

CgroupStats read_stats_v2(const std::string& dir) {
  CgroupStats s;
  if (auto cpu = read_cgroup_file_if_exists(dir, "cpu.stat"))
    if (auto usec = flat_keyed_value(*cpu, "usage_usec")) s.cpu_usage_ns = *usec * 1000;
  s.memory_usage_bytes = read_number(dir, "memory.current");
  if (auto stat = read_cgroup_file_if_exists(dir, "memory.stat")) {
    s.memory_working_set_bytes = working_set(s.memory_usage_bytes, flat_keyed_value(*stat, "inactive_file"));
    s.memory_rss_bytes = flat_keyed_value(*stat, "anon");
    s.page_faults = flat_keyed_value(*stat, "pgfault");
    s.major_page_faults = flat_keyed_value(*stat, "pgmajfault");
  }
  s.pids_current = read_pids_current(dir);
  return s;
}

std::optional<uint64_t> read_pids_current(const std::string& dir) { return read_number(dir, "pids.current"); }

}  // namespace vpcri::runtime::cgroup

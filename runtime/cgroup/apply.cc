#include "runtime/cgroup/apply.h"

#include <algorithm>
#include <cerrno>

#include "common/error.h"
#include "common/log.h"
#include "runtime/cgroup/files.h"

namespace vpcri::runtime::cgroup {
namespace {

// Value for a limit file with an "unlimited" spelling: > 0 verbatim, < 0 unlimited.
std::string limit_value(int64_t v, const char* unlimited) { return v < 0 ? unlimited : std::to_string(v); }

bool valid_page_size(std::string_view s) {
  if (s.size() < 3 || s[0] < '1' || s[0] > '9') return false;
  std::string_view unit = s.substr(s.size() - 2);
  if (unit != "KB" && unit != "MB" && unit != "GB") return false;
  return std::all_of(s.begin(), s.end() - 2, [](char c) { return c >= '0' && c <= '9'; });
}

bool valid_cpu_list(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == ',' || c == '-'; });
}

// A raw v2 key must name one interface file of a controller: "memory.high", "io.max".
// cgroup.* files (procs, kill, subtree_control, ...) are the runtime's, never a request's.
void validate_unified_key(const std::string& key, const std::string& value) {
  auto bad = [&](const std::string& why) {
    throw Error(Errc::invalid_argument, "invalid unified cgroup key \"" + key + "\": " + why);
  };
  auto dot = key.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == key.size())
    bad("expected <controller>.<file>, like \"memory.high\"");
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
      bad("only letters, digits, '_' and '.' are allowed");  // uppercase: "hugetlb.2MB.max"
  if (key.find("..") != std::string::npos) bad("empty name part");
  if (key.compare(0, dot, "cgroup") == 0) bad("cgroup.* interface files are managed by the runtime");
  if (value.find('\0') != std::string::npos) bad("value contains a NUL byte");
}

}  // namespace

uint64_t cpu_shares_to_weight(uint64_t shares) {
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

int64_t memory_swap_to_v2(int64_t memory_swap, int64_t memory) {
  // As in v1: unlimited memory with swap not set means both unlimited.
  if (memory < 0 && memory_swap == 0) return -1;
  if (memory_swap < 0) return -1;
  if (memory_swap == 0) return 0;
  if (memory <= 0)
    throw Error(Errc::invalid_argument, "memory_swap_limit_in_bytes (" + std::to_string(memory_swap) +
                                            ") needs a memory limit; memory_limit_in_bytes is " +
                                            std::to_string(memory));
  if (memory_swap < memory)
    throw Error(Errc::invalid_argument, "memory_swap_limit_in_bytes (" + std::to_string(memory_swap) +
                                            ") is below memory_limit_in_bytes (" + std::to_string(memory) +
                                            "); it counts memory plus swap");
  return memory_swap - memory;
}

void validate_resources(const LinuxResources& r, bool unified_hierarchy) {
  for (const auto& [size, limit] : r.hugepage_limits)
    if (!valid_page_size(size))
      throw Error(Errc::invalid_argument,
                  "invalid hugepage size \"" + size + "\": expected a number with KB, MB or GB, like \"2MB\"");
  if (!valid_cpu_list(r.cpuset_cpus))
    throw Error(Errc::invalid_argument, "invalid cpuset_cpus \"" + r.cpuset_cpus + "\": expected a list like \"0-3,6\"");
  if (!valid_cpu_list(r.cpuset_mems))
    throw Error(Errc::invalid_argument, "invalid cpuset_mems \"" + r.cpuset_mems + "\": expected a list like \"0,1\"");
  // Same rule in v1 and v2: memory+swap needs a memory limit at or below it.
  if (r.memory_swap_limit_in_bytes > 0) memory_swap_to_v2(r.memory_swap_limit_in_bytes, r.memory_limit_in_bytes);
  if (!r.unified.empty() && !unified_hierarchy)
    throw Error(Errc::invalid_argument,
                "unified (cgroup v2) resources were requested, but this host's cgroup controllers are v1 (key \"" +
                    r.unified.begin()->first + "\")");
  for (const auto& [key, value] : r.unified) validate_unified_key(key, value);
}

void apply_v1(const std::map<std::string, std::string>& dirs, const LinuxResources& r) {
  validate_resources(r, false);
  auto dir_of = [&](const char* controller) -> const std::string* {
    auto it = dirs.find(controller);
    return it == dirs.end() ? nullptr : &it->second;
  };
  auto need = [&](const char* controller, const char* what) -> const std::string& {
    const std::string* d = dir_of(controller);
    if (!d)
      throw Error(Errc::failed_precondition, std::string(what) + " was requested, but the host has no cgroup v1 \"" +
                                                 controller + "\" hierarchy mounted");
    return *d;
  };

  if (r.cpu_shares != 0) write_cgroup_file(need("cpu", "cpu_shares"), "cpu.shares", std::to_string(r.cpu_shares));
  if (r.cpu_period != 0 || r.cpu_quota != 0) {
    const std::string& cpu = need("cpu", "a CPU quota");
    // A smaller period can be refused (EINVAL) while the old quota still applies, because
    // old_quota/new_period may exceed the parent's limit; then retry it after the quota (runc does).
    bool period_pending = false;
    if (r.cpu_period != 0) {
      try {
        write_cgroup_file(cpu, "cpu.cfs_period_us", std::to_string(r.cpu_period));
      } catch (const Error& e) {
        if (e.code() != Errc::invalid_argument || r.cpu_quota == 0) throw;
        period_pending = true;
      }
    }
    if (r.cpu_quota != 0) {
      write_cgroup_file(cpu, "cpu.cfs_quota_us", limit_value(r.cpu_quota, "-1"));
      if (period_pending) write_cgroup_file(cpu, "cpu.cfs_period_us", std::to_string(r.cpu_period));
    }
  }

  int64_t memory = r.memory_limit_in_bytes;
  int64_t swap = r.memory_swap_limit_in_bytes;
  if (memory < 0 && swap == 0) swap = -1;  // unlimited memory implies unlimited memory+swap
  if (memory != 0 || swap != 0) {
    const std::string& mem = need("memory", "a memory limit");
    bool has_memsw = read_cgroup_file_if_exists(mem, "memory.memsw.limit_in_bytes").has_value();
    if (swap > 0 && !has_memsw)
      throw Error(Errc::failed_precondition,
                  "a memory+swap limit was requested, but the kernel has no swap accounting (" + mem +
                      "/memory.memsw.limit_in_bytes is missing; boot with swapaccount=1)");
    auto set_memory = [&] {
      if (memory != 0) write_cgroup_file(mem, "memory.limit_in_bytes", limit_value(memory, "-1"));
    };
    auto set_swap = [&] {
      if (swap != 0 && has_memsw) write_cgroup_file(mem, "memory.memsw.limit_in_bytes", limit_value(swap, "-1"));
    };
    // The kernel insists memory <= memory+swap at every moment: raise memsw first when growing.
    bool swap_first = false;
    if (memory != 0 && swap != 0 && has_memsw) {
      uint64_t current = parse_u64(read_cgroup_file(mem, "memory.limit_in_bytes"), mem + "/memory.limit_in_bytes");
      swap_first = swap < 0 || current < static_cast<uint64_t>(swap);
    }
    if (swap_first) {
      set_swap();
      set_memory();
    } else {
      set_memory();
      set_swap();
    }
  }

  if (r.pids_limit != 0) write_cgroup_file(need("pids", "a pids limit"), "pids.max", limit_value(r.pids_limit, "max"));
  if (!r.cpuset_cpus.empty()) write_cgroup_file(need("cpuset", "cpuset_cpus"), "cpuset.cpus", r.cpuset_cpus);
  if (!r.cpuset_mems.empty()) write_cgroup_file(need("cpuset", "cpuset_mems"), "cpuset.mems", r.cpuset_mems);

  if (!r.hugepage_limits.empty()) {
    if (const std::string* huge = dir_of("hugetlb")) {
      for (const auto& [size, limit] : r.hugepage_limits)
        write_cgroup_file(*huge, "hugetlb." + size + ".limit_in_bytes", std::to_string(limit));
    } else {
      log::warn("hugepage limits not applied: the host has no cgroup v1 hugetlb hierarchy",
                {{"pages", std::to_string(r.hugepage_limits.size())}});
    }
  }
}

void apply_v2(const std::string& dir, const LinuxResources& r) {
  validate_resources(r, true);

  if (r.cpu_shares != 0)
    write_cgroup_file(dir, "cpu.weight", std::to_string(cpu_shares_to_weight(static_cast<uint64_t>(r.cpu_shares))));
  if (r.cpu_quota != 0 || r.cpu_period != 0) {
    // "$MAX $PERIOD"; the period may be omitted to keep the current one.
    std::string value = r.cpu_quota > 0 ? std::to_string(r.cpu_quota) : "max";
    if (r.cpu_period != 0) value += " " + std::to_string(r.cpu_period);
    write_cgroup_file(dir, "cpu.max", value);
  }

  int64_t swap = memory_swap_to_v2(r.memory_swap_limit_in_bytes, r.memory_limit_in_bytes);
  // swap == 0 with a swap limit set means "memory+swap == memory": no swap at all.
  if (swap != 0 || r.memory_swap_limit_in_bytes > 0) {
    std::string value = limit_value(swap, "max");
    try {
      write_cgroup_file(dir, "memory.swap.max", value);
    } catch (const Error& e) {
      // Without swap support the file is missing; "no swap" and "unlimited" then hold anyway.
      if (e.code() != Errc::failed_precondition || (value != "max" && value != "0")) throw;
    }
  }
  if (r.memory_limit_in_bytes != 0) write_cgroup_file(dir, "memory.max", limit_value(r.memory_limit_in_bytes, "max"));

  if (r.pids_limit != 0) write_cgroup_file(dir, "pids.max", limit_value(r.pids_limit, "max"));
  if (!r.cpuset_cpus.empty()) write_cgroup_file(dir, "cpuset.cpus", r.cpuset_cpus);
  if (!r.cpuset_mems.empty()) write_cgroup_file(dir, "cpuset.mems", r.cpuset_mems);

  if (!r.hugepage_limits.empty()) {
    auto offered = split_words(read_cgroup_file_if_exists(dir, "cgroup.controllers").value_or(""));
    bool has_hugetlb = std::find(offered.begin(), offered.end(), "hugetlb") != offered.end();
    if (has_hugetlb) {
      for (const auto& [size, limit] : r.hugepage_limits)
        write_cgroup_file(dir, "hugetlb." + size + ".max", std::to_string(limit));
    } else {
      log::warn("hugepage limits not applied: the hugetlb controller is not enabled for this cgroup",
                {{"cgroup", dir}});
    }
  }

  for (const auto& [key, value] : r.unified) write_cgroup_file(dir, key, value);
}

}  // namespace vpcri::runtime::cgroup

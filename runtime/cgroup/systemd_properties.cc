#include "runtime/cgroup/systemd_properties.h"

#include <charconv>

#include "common/error.h"
#include "runtime/cgroup/apply.h"

namespace vpcri::runtime::cgroup {
namespace {

constexpr uint64_t kDefaultCpuPeriodUs = 100000;  // the kernel's cfs_period_us default
constexpr uint64_t kQuotaStepUs = 10000;          // systemd keeps CPUQuota as whole percent
constexpr unsigned kMaxCpu = 8191;

uint64_t limit_or_infinity(int64_t v) { return v < 0 ? kSystemdInfinity : static_cast<uint64_t>(v); }

}  // namespace

const char* dbus_signature(const UnitProperty::Value& value) {
  switch (value.index()) {
    case 0: return "b";
    case 1: return "t";
    case 2: return "s";
    case 3: return "au";
    default: return "ay";
  }
}

std::vector<uint8_t> cpu_list_to_mask(std::string_view list) {
  auto bad = [&](const char* why) -> Error {
    return Error(Errc::invalid_argument, "invalid cpu list \"" + std::string(list) + "\": " + why);
  };
  auto number = [&](std::string_view s) {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) throw bad("expected numbers like \"0-3,6\"");
    if (n > kMaxCpu) throw bad("a cpu above 8191");
    return n;
  };
  std::vector<uint8_t> mask;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = list.substr(pos, comma - pos);
    pos = comma + 1;
    size_t dash = item.find('-');
    unsigned first = number(item.substr(0, dash));
    unsigned last = dash == std::string_view::npos ? first : number(item.substr(dash + 1));
    if (last < first) throw bad("a range that ends before it starts");
    if (mask.size() < last / 8 + 1) mask.resize(last / 8 + 1, 0);
    for (unsigned cpu = first; cpu <= last; ++cpu) mask[cpu / 8] |= static_cast<uint8_t>(1u << (cpu % 8));
  }
  return mask;
}

std::vector<UnitProperty> resource_properties(const LinuxResources& r) {
  validate_resources(r, true);
  std::vector<UnitProperty> props;
  if (r.cpu_shares != 0) props.push_back({"CPUWeight", cpu_shares_to_weight(static_cast<uint64_t>(r.cpu_shares))});
  if (r.cpu_period > 0) props.push_back({"CPUQuotaPeriodUSec", static_cast<uint64_t>(r.cpu_period)});
  if (r.cpu_quota != 0 || r.cpu_period != 0) {
    uint64_t per_sec = kSystemdInfinity;
    if (r.cpu_quota > 0) {
      uint64_t period = r.cpu_period > 0 ? static_cast<uint64_t>(r.cpu_period) : kDefaultCpuPeriodUs;
      per_sec = static_cast<uint64_t>(r.cpu_quota) * 1000000 / period;
      // Rounded up: a container must get at least the quota it asked for.
      if (per_sec % kQuotaStepUs != 0) per_sec = (per_sec / kQuotaStepUs + 1) * kQuotaStepUs;
    }
    props.push_back({"CPUQuotaPerSecUSec", per_sec});
  }
  if (r.memory_limit_in_bytes != 0) props.push_back({"MemoryMax", limit_or_infinity(r.memory_limit_in_bytes)});
  int64_t swap = memory_swap_to_v2(r.memory_swap_limit_in_bytes, r.memory_limit_in_bytes);
  if (swap != 0) props.push_back({"MemorySwapMax", limit_or_infinity(swap)});
  if (r.pids_limit != 0) props.push_back({"TasksMax", limit_or_infinity(r.pids_limit)});
  if (!r.cpuset_cpus.empty()) props.push_back({"AllowedCPUs", cpu_list_to_mask(r.cpuset_cpus)});
  if (!r.cpuset_mems.empty()) props.push_back({"AllowedMemoryNodes", cpu_list_to_mask(r.cpuset_mems)});
  return props;
}

std::vector<UnitProperty> scope_properties(std::string_view description, std::string_view slice,
                                           const std::vector<pid_t>& pids, const LinuxResources& r) {
  std::vector<uint32_t> pid_list(pids.begin(), pids.end());
  std::vector<UnitProperty> props = {
      {"Description", std::string(description)},
      {"Slice", std::string(slice)},
      {"PIDs", pid_list},
      {"Delegate", true},
      {"DefaultDependencies", false},
      {"CPUAccounting", true},
      {"MemoryAccounting", true},
      {"TasksAccounting", true},
      {"IOAccounting", true},
  };
  for (UnitProperty& p : resource_properties(r)) props.push_back(std::move(p));
  return props;
}

}  // namespace vpcri::runtime::cgroup

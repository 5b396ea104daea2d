// The properties of a transient systemd unit, mapped from LinuxResources the way runc's systemd
// driver (cgroup v2) maps them, so systemd's view of a scope's limits is the one the kernel
// enforces, and a "systemctl daemon-reload" re-applies the same values rather than others.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/cgroup/resources.h"

namespace vpcri::runtime::cgroup {

// systemd's "infinity" for uint64 properties (USEC_INFINITY, CGROUP_LIMIT_MAX, TasksMax).
inline constexpr uint64_t kSystemdInfinity = UINT64_MAX;

// One (name, value) pair of StartTransientUnit / SetUnitProperties: D-Bus type b, t, s, au or ay.
struct UnitProperty {
  using Value = std::variant<bool, uint64_t, std::string, std::vector<uint32_t>, std::vector<uint8_t>>;
  std::string name;
  Value value;
  bool operator==(const UnitProperty&) const = default;
};

// The D-Bus signature of a property's value: "b", "t", "s", "au" or "ay".
const char* dbus_signature(const UnitProperty::Value& value);

// A cpu or memory-node list ("0-3,6") -> systemd's bitmask (AllowedCPUs / AllowedMemoryNodes):
// byte i holds bits for cpus 8i..8i+7, lowest bit first. Error(invalid_argument) for a malformed
// list or a cpu above 8191.
std::vector<uint8_t> cpu_list_to_mask(std::string_view list);

// The limits that are set (CRI's 0 = unset leaves a property out), in this order:
// CPUWeight (from cpu_shares), CPUQuotaPeriodUSec, CPUQuotaPerSecUSec (quota/period rounded up to
// systemd's 10 ms steps; infinity for quota < 0), MemoryMax, MemorySwapMax, TasksMax (< 0 =
// infinity), AllowedCPUs, AllowedMemoryNodes. Hugepage limits and raw `unified` keys have no
// systemd property: the driver writes those files itself. Validates first (validate_resources).
std::vector<UnitProperty> resource_properties(const LinuxResources& r);

// Everything StartTransientUnit gets for the scope holding a container: Description, Slice,
// PIDs, Delegate=yes (the scope's subtree is vpcri's: exec cgroups, the BPF device filter),
// DefaultDependencies=no (it must not be stopped by shutdown ordering before vpcri kills it),
// the accounting switches that make systemd enable the controllers, then resource_properties.
std::vector<UnitProperty> scope_properties(std::string_view description, std::string_view slice,
                                           const std::vector<pid_t>& pids, const LinuxResources& r);

}  // namespace vpcri::runtime::cgroup

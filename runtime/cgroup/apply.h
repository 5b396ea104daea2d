// Writing LinuxResources into a cgroup's interface files, for each hierarchy layout. The same
// functions serve creation and live updates: fields left at 0 / empty are not touched.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "runtime/cgroup/resources.h"

namespace vpcri::runtime::cgroup {

// v1 cpu.shares -> v2 cpu.weight, the way runc converts it: 1 + ((shares - 2) * 9999) / 262142,
// with shares clamped to the kernel's v1 range [2, 262144] first (so the result is in [1, 10000]).
uint64_t cpu_shares_to_weight(uint64_t shares);

// CRI's memory+swap limit (v1 semantics) -> the value for v2 memory.swap.max, as runc converts
// it: -1 = "max", 0 = leave unset, otherwise memory_swap - memory. Throws Error(invalid_argument)
// for a swap limit without a memory limit or below it.
int64_t memory_swap_to_v2(int64_t memory_swap, int64_t memory);

// Checks everything that can be checked before the first write, so a bad request changes
// nothing: page sizes ("2MB"), cpuset lists, the names of `unified` keys, swap vs memory.
// `unified_hierarchy`: whether the target is a v2 cgroup with controllers (raw keys need one).
void validate_resources(const LinuxResources& r, bool unified_hierarchy);

// v1: `dirs` maps each available controller to this cgroup's directory in its hierarchy.
// Hugepage limits are skipped (with a warning) when the host has no hugetlb hierarchy, as
// containerd does; a swap limit without swap accounting (no memory.memsw.*) is an error.
void apply_v1(const std::map<std::string, std::string>& dirs, const LinuxResources& r);

// v2: `dir` is this cgroup's directory. Hugepage limits are skipped (with a warning) when the
// cgroup does not offer hugetlb; other missing controllers make the write fail with a clear error.
void apply_v2(const std::string& dir, const LinuxResources& r);

}  // namespace vpcri::runtime::cgroup

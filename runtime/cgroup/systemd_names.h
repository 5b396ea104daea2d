// Names under the systemd cgroup driver: kubelet sends a pod's cgroup_parent as a slice unit
// name ("kubepods-burstable-pod<uid>.slice"), systemd places that slice's cgroup by the dashes in
// its name, and each container (and pause) gets a transient scope unit of its own.
#pragma once

#include <string>
#include <string_view>

namespace vpcri::runtime::cgroup {

// Checks a slice name as kubelet's systemd driver makes it and returns its cgroup path, the way
// systemd nests slices: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice". Only letters, digits,
// '_', '.' and '-' (no systemd "\x2d" escapes), at most 255 bytes, ending in ".slice"; no empty
// dash-separated part ("a--b.slice", "-a.slice"). "-.slice" (the root slice: the host's) and a
// cgroupfs path ("/kubepods/pod1") are refused too. Throws Error(invalid_argument).
std::string expand_slice(std::string_view slice);

// The transient scope unit that holds container (or pause) `id`: "vpcri-<id>.scope". `id` must
// be a non-empty run of [A-Za-z0-9_-] (vpcri's ids are hex); Error(invalid_argument) otherwise.
std::string scope_unit_name(std::string_view id);

// The unit a cgroup path made by the systemd driver belongs to: its last component if it ends in
// ".scope" or ".slice" ("/a.slice/vpcri-1.scope" -> "vpcri-1.scope"), else "".
std::string unit_of_cgroup_path(std::string_view path);

}  // namespace vpcri::runtime::cgroup

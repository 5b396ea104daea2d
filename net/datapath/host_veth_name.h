// Name of a pod's host-side veth, computed the way the AWS VPC CNI does so that tooling and
// habits built around it (`ip link | grep eni`, per-pod name lookups) keep working.
#pragma once

#include <string>
#include <string_view>

namespace vpcri::net {

inline constexpr std::string_view kDefaultHostVethPrefix = "eni";

// prefix + first 11 hex chars of sha1("<namespace>.<podname>"): deterministic, so a restart or
// a half-done setup finds the same name again. Throws Errc::invalid_argument for a prefix that
// is empty, longer than 4 characters (Linux names are at most 15), not alphanumeric, or one
// that would collide with real interfaces ("eth", "lo", "vlan").
std::string host_veth_name(std::string_view pod_namespace, std::string_view pod_name,
                           std::string_view prefix = kDefaultHostVethPrefix);

}  // namespace vpcri::net

// The devices a container gets: the nodes it asked for, found on the host, and the cgroup policy
// that follows from them (runc's defaults plus those nodes; everything when privileged).
#pragma once

#include <string>
#include <vector>

#include "runtime/cgroup/devices.h"
#include "runtime/container/spec.h"

namespace vpcri::runtime::container {

// The device(s) at `host_path` for the container, as CRI's Device asks: a char or block node
// (symlinks followed), or a directory, which gives every node beneath it (as containerd: not
// pts/, shm/, mqueue/, fd/, nor console) at the same relative path under `container_path`.
// `container_path` "" = `host_path`; `access` "" = "rwm". Throws Error(invalid_argument) for a
// host path that does not exist or is no device nor directory, a relative container path, or an
// access that is not a subset of "rwm".
std::vector<DeviceNode> host_devices(const std::string& host_path, const std::string& container_path,
                                     const std::string& access);

// The cgroup device policy of a container started from `spec`.
cgroup::DevicePolicy device_policy(const InitSpec& spec);

}  // namespace vpcri::runtime::container

// Namespaced sysctls (CRI's pod sysctls), checked and written by vpcri-init.
#pragma once

#include <map>
#include <string>

#include "runtime/container/spec.h"

namespace vpcri::runtime::container {

// The path under /proc/sys of `key` ("net.ipv4.ip_forward" → "net/ipv4/ip_forward"; a key with
// '/' is taken as a path already, so dots in interface names survive). Throws InitError(EINVAL)
// for a malformed key, a value with a newline, a sysctl that is not namespaced (only
// kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* and net.* are), or one of a namespace
// the process shares with the host (net.* with the host network, the IPC ones with host IPC).
std::string sysctl_path(const std::string& key, const std::string& value, const InitSpec& spec);

// Validates every sysctl, then writes each through an fd opened beneath /proc/sys without
// following symlinks.
void apply_sysctls(const InitSpec& spec);

}  // namespace vpcri::runtime::container

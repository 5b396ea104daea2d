// Which device nodes a container may use (open for read/write) or create (mknod). Without a
// policy a root container could mknod the host's disk and read it: the cgroup is what says no.
// The rules are runc's format; v1 writes them to the devices controller, cgroup2 enforces them
// with a BPF program (device_filter.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vpcri::runtime::cgroup {

inline constexpr int64_t kAnyDevice = -1;  // wildcard major or minor ("*")

// One allow rule: `type` 'a' (all), 'c' (char) or 'b' (block); access a subset of "rwm".
struct DeviceRule {
  char type = 'a';
  int64_t major = kAnyDevice;
  int64_t minor = kAnyDevice;
  std::string access = "rwm";
  bool operator==(const DeviceRule&) const = default;
};

// What a container may do with devices: everything (privileged), or nothing but `allowed`.
struct DevicePolicy {
  bool allow_all = false;
  std::vector<DeviceRule> allowed;
};

// runc's built-in allow list (libcontainer/specconv AllowedDevices, runc 1.2.4+): mknod of any
// char or block device, use of /dev/null, zero, full, random, urandom, tty, console, ptmx,
// /dev/pts/*, and tun/tap.
const std::vector<DeviceRule>& default_device_rules();

// The default list; with `extra` appended (the devices the container asked for).
DevicePolicy default_device_policy(const std::vector<DeviceRule>& extra = {});

// "c 1:3 rwm", "b *:* m", "a *:* rwm": the devices.allow / devices.list format.
std::string device_rule_string(const DeviceRule& rule);

// Throws Error(invalid_argument) naming the problem: a type other than a/b/c, an access that
// is empty or not a subset of "rwm", a major/minor below kAnyDevice or above 2^32-1.
void validate_device_rule(const DeviceRule& rule);

// v1: `dir` is the cgroup's directory in the devices hierarchy. allow_all: "a" to devices.allow;
// otherwise "a" to devices.deny (drops everything inherited), then each rule to devices.allow.
// The kernel only lets a cgroup narrow its parent's list, and only while it has no children.
void apply_devices_v1(const std::string& dir, const DevicePolicy& policy);

}  // namespace vpcri::runtime::cgroup

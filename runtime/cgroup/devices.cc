#include "runtime/cgroup/devices.h"

#include "common/error.h"
#include "runtime/cgroup/files.h"

namespace vpcri::runtime::cgroup {
namespace {

std::string number(int64_t n) { return n == kAnyDevice ? "*" : std::to_string(n); }

}  // namespace

const std::vector<DeviceRule>& default_device_rules() {
  static const std::vector<DeviceRule> rules = {
      {'c', kAnyDevice, kAnyDevice, "m"},  // mknod of any node is harmless without use
      {'b', kAnyDevice, kAnyDevice, "m"},
      {'c', 1, 3, "rwm"},           // /dev/null
      {'c', 1, 8, "rwm"},           // /dev/random
      {'c', 1, 7, "rwm"},           // /dev/full
      {'c', 5, 0, "rwm"},           // /dev/tty
      {'c', 1, 5, "rwm"},           // /dev/zero
      {'c', 1, 9, "rwm"},           // /dev/urandom
      {'c', 5, 1, "rwm"},           // /dev/console
      {'c', 136, kAnyDevice, "rwm"},  // /dev/pts/*
      {'c', 5, 2, "rwm"},           // /dev/ptmx
      {'c', 10, 200, "rwm"},        // /dev/net/tun (runc dropped it in 1.2.0, restored it in 1.2.4)
  };
  return rules;
}

DevicePolicy default_device_policy(const std::vector<DeviceRule>& extra) {
  DevicePolicy policy;
  policy.allowed = default_device_rules();
  policy.allowed.insert(policy.allowed.end(), extra.begin(), extra.end());
  return policy;
}

std::string device_rule_string(const DeviceRule& rule) {
  return std::string(1, rule.type) + " " + number(rule.major) + ":" + number(rule.minor) + " " + rule.access;
}

void validate_device_rule(const DeviceRule& rule) {
  auto bad = [&](const std::string& why) {
    throw Error(Errc::invalid_argument, "device rule \"" + device_rule_string(rule) + "\": " + why);
  };
  if (rule.type != 'a' && rule.type != 'b' && rule.type != 'c') bad("type must be a, b or c");
  if (rule.access.empty()) bad("no access (a subset of rwm)");
  if (rule.access.find_first_not_of("rwm") != std::string::npos) bad("access must be a subset of rwm");
  for (int64_t n : {rule.major, rule.minor})
    if (n < kAnyDevice || n > int64_t{UINT32_MAX}) bad("major and minor must be * or 0..4294967295");
}

void apply_devices_v1(const std::string& dir, const DevicePolicy& policy) {
  if (policy.allow_all) {
    write_cgroup_file(dir, "devices.allow", "a");
    return;
  }
  for (const DeviceRule& rule : policy.allowed) validate_device_rule(rule);
  write_cgroup_file(dir, "devices.deny", "a");
  for (const DeviceRule& rule : policy.allowed) write_cgroup_file(dir, "devices.allow", device_rule_string(rule));
}

}  // namespace vpcri::runtime::cgroup

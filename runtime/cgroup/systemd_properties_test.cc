#include "runtime/cgroup/systemd_properties.h"

#include <doctest/doctest.h>

#include <string>

#include "common/error.h"

using namespace vpcri::runtime::cgroup;
using vpcri::Errc;
using vpcri::Error;

namespace {
const UnitProperty* find(const std::vector<UnitProperty>& props, const std::string& name) {
  for (const auto& p : props)
    if (p.name == name) return &p;
  return nullptr;
}
uint64_t number(const std::vector<UnitProperty>& props, const std::string& name) {
  const UnitProperty* p = find(props, name);
  REQUIRE_MESSAGE(p, name);
  REQUIRE(std::holds_alternative<uint64_t>(p->value));
  return std::get<uint64_t>(p->value);
}
}  // namespace

TEST_CASE("unset resources map to no property at all") { CHECK(resource_properties({}).empty()); }

TEST_CASE("limits map to systemd properties as runc's systemd driver maps them") {
  LinuxResources r;
  r.cpu_shares = 1024;
  r.cpu_period = 100000;
  r.cpu_quota = 50000;
  r.memory_limit_in_bytes = 64 << 20;
  r.memory_swap_limit_in_bytes = 96 << 20;
  r.pids_limit = 42;
  r.cpuset_cpus = "0-1,9";
  r.cpuset_mems = "0";
  auto props = resource_properties(r);
  CHECK(number(props, "CPUWeight") == 39);  // 1 + (1022 * 9999) / 262142
  CHECK(number(props, "CPUQuotaPeriodUSec") == 100000);
  CHECK(number(props, "CPUQuotaPerSecUSec") == 500000);
  CHECK(number(props, "MemoryMax") == (64u << 20));
  CHECK(number(props, "MemorySwapMax") == (32u << 20));
  CHECK(number(props, "TasksMax") == 42);
  CHECK(std::get<std::vector<uint8_t>>(find(props, "AllowedCPUs")->value) == std::vector<uint8_t>{0x03, 0x02});
  CHECK(std::get<std::vector<uint8_t>>(find(props, "AllowedMemoryNodes")->value) == std::vector<uint8_t>{0x01});
  for (const auto& p : props) {
    CAPTURE(p.name);
    CHECK(std::string(dbus_signature(p.value)) == (p.name.starts_with("Allowed") ? "ay" : "t"));
  }
}

TEST_CASE("a CPU quota is rounded up to systemd's whole percent, and the default period assumed") {
  LinuxResources r;
  r.cpu_quota = 12345;  // of the default 100 ms: 123450 us per second -> 130000
  auto props = resource_properties(r);
  CHECK(find(props, "CPUQuotaPeriodUSec") == nullptr);
  CHECK(number(props, "CPUQuotaPerSecUSec") == 130000);
  r.cpu_period = 50000;
  r.cpu_quota = 25000;
  CHECK(number(resource_properties(r), "CPUQuotaPerSecUSec") == 500000);
}

TEST_CASE("negative limits ask systemd for infinity") {
  LinuxResources r;
  r.cpu_quota = -1;
  r.memory_limit_in_bytes = -1;
  r.pids_limit = -1;
  auto props = resource_properties(r);
  CHECK(number(props, "CPUQuotaPerSecUSec") == kSystemdInfinity);
  CHECK(number(props, "MemoryMax") == kSystemdInfinity);
  CHECK(number(props, "MemorySwapMax") == kSystemdInfinity);  // unlimited memory, swap unset: both
  CHECK(number(props, "TasksMax") == kSystemdInfinity);
}

TEST_CASE("bad resources are refused before systemd is asked") {
  LinuxResources r;
  r.memory_swap_limit_in_bytes = 100;  // no memory limit
  CHECK_THROWS_AS(resource_properties(r), Error);
  LinuxResources cpus;
  cpus.cpuset_cpus = "3-1";
  CHECK_THROWS_AS(resource_properties(cpus), Error);
  for (const char* bad : {"", "a", "1,", "-1", "1-", "9000"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(cpu_list_to_mask(bad), Error);
  }
  CHECK(cpu_list_to_mask("7") == std::vector<uint8_t>{0x80});
  CHECK(cpu_list_to_mask("8-9") == std::vector<uint8_t>{0x00, 0x03});
}

TEST_CASE("a scope is delegated to vpcri, in its slice, with its processes and limits") {
  LinuxResources r;
  r.memory_limit_in_bytes = 1 << 20;
  auto props = scope_properties("vpcri vpcri-1.scope", "kubepods-pod1.slice", {7, 9}, r);
  CHECK(std::get<std::string>(find(props, "Slice")->value) == "kubepods-pod1.slice");
  CHECK(std::get<std::vector<uint32_t>>(find(props, "PIDs")->value) == std::vector<uint32_t>{7, 9});
  CHECK(std::get<bool>(find(props, "Delegate")->value) == true);
  CHECK(std::get<bool>(find(props, "DefaultDependencies")->value) == false);
  CHECK(std::get<bool>(find(props, "MemoryAccounting")->value) == true);
  CHECK(std::string(dbus_signature(find(props, "PIDs")->value)) == "au");
  CHECK(number(props, "MemoryMax") == (1u << 20));
}

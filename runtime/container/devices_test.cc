// CRI devices found on the host, and the cgroup policy a container gets from its spec.
#include "runtime/container/devices.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include "common/error.h"

using namespace vpcri::runtime::container;
using vpcri::Errc;
using vpcri::Error;
namespace cgroup = vpcri::runtime::cgroup;

namespace {

std::optional<Errc> code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("runtime-container: a device node is found with its type, numbers and mode") {
  auto nodes = host_devices("/dev/zero", "/dev/myzero", "r");
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].host_path == "/dev/zero");
  CHECK(nodes[0].path == "/dev/myzero");
  CHECK(nodes[0].type == 'c');
  CHECK(nodes[0].major == 1);
  CHECK(nodes[0].minor == 5);
  CHECK(nodes[0].access == "r");
  struct stat st {};
  REQUIRE(::stat("/dev/zero", &st) == 0);
  CHECK(nodes[0].mode == (st.st_mode & 07777));

  auto same_path = host_devices("/dev/null", "", "");
  REQUIRE(same_path.size() == 1);
  CHECK(same_path[0].path == "/dev/null");
  CHECK(same_path[0].access == "rwm");
}

TEST_CASE("runtime-container: a directory gives every node beneath it") {
  char tmpl[] = "/var/tmp/vpcri-devdir.XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  REQUIRE(::mkdir((dir + "/sub").c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir + "/pts").c_str(), 0755) == 0);
  REQUIRE(::mknod((dir + "/a").c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0);
  REQUIRE(::mknod((dir + "/sub/b").c_str(), S_IFBLK | 0640, makedev(7, 1)) == 0);
  REQUIRE(::mknod((dir + "/pts/0").c_str(), S_IFCHR | 0600, makedev(136, 0)) == 0);
  std::ofstream(dir + "/plain") << "not a device";

  auto nodes = host_devices(dir, "/dev/mine", "rw");
  std::sort(nodes.begin(), nodes.end(), [](const DeviceNode& x, const DeviceNode& y) { return x.path < y.path; });
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0].path == "/dev/mine/a");
  CHECK(nodes[0].type == 'c');
  CHECK(nodes[0].mode == 0600);
  CHECK(nodes[1].path == "/dev/mine/sub/b");
  CHECK(nodes[1].host_path == dir + "/sub/b");
  CHECK(nodes[1].type == 'b');
  CHECK(nodes[1].major == 7);
  CHECK(nodes[1].minor == 1);
  CHECK(nodes[1].access == "rw");

  CHECK(code_of([&] { host_devices(dir + "/plain", "/dev/x", "r"); }) == Errc::invalid_argument);
}

TEST_CASE("runtime-container: bad devices are clear errors") {
  try {
    host_devices("/dev/vpcri-no-such-device", "/dev/x", "rw");
    FAIL("a missing host path must fail");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::invalid_argument);
    CHECK(std::string(e.what()).find("/dev/vpcri-no-such-device") != std::string::npos);
    CHECK(std::string(e.what()).find("does not exist") != std::string::npos);
  }
  CHECK(code_of([] { host_devices("/dev/null", "dev/x", "r"); }) == Errc::invalid_argument);
  CHECK(code_of([] { host_devices("dev/null", "/dev/x", "r"); }) == Errc::invalid_argument);
  CHECK(code_of([] { host_devices("/dev/null", "/dev/x", "rx"); }) == Errc::invalid_argument);
}

TEST_CASE("runtime-container: the device policy follows the spec") {
  InitSpec spec;
  spec.devices = host_devices("/dev/zero", "/dev/myzero", "r");
  auto policy = device_policy(spec);
  CHECK_FALSE(policy.allow_all);
  CHECK(policy.allowed.size() == cgroup::default_device_rules().size() + 1);
  CHECK(cgroup::device_rule_string(policy.allowed.back()) == "c 1:5 r");

  spec.privileged = true;
  policy = device_policy(spec);
  CHECK(policy.allow_all);
  CHECK(policy.allowed.empty());
}

// The device policy: runc's default list, the v1 devices controller for real (this host has
// one), and the cgroup2 BPF filter for real: a child in a scratch cgroup of the unified
// hierarchy opens device nodes the test made, and the kernel asks the program.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <set>

#include "common/error.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/device_filter.h"
#include "runtime/cgroup/devices.h"
#include "runtime/cgroup/files.h"
#include "runtime/cgroup/test_support.h"

using namespace vpcri::runtime::cgroup;
using namespace vpcri::runtime::cgroup::testing;
using vpcri::Errc;
using vpcri::Error;
using vpcri::runtime::CgroupMode;

namespace {

std::set<std::string> rule_strings(const std::vector<DeviceRule>& rules) {
  std::set<std::string> out;
  for (const auto& r : rules) out.insert(device_rule_string(r));
  return out;
}

std::set<std::string> lines_of(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.insert(line);
  return out;
}

// A temp directory holding device nodes the test creates (on a filesystem without nodev).
class NodeDir {
 public:
  NodeDir() {
    char tmpl[] = "/var/tmp/vpcri-devnodes.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
  }
  ~NodeDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string node(const std::string& name, mode_t type, unsigned major, unsigned minor) const {
    std::string path = dir_ + "/" + name;
    REQUIRE(::mknod(path.c_str(), type | 0666, makedev(major, minor)) == 0);
    return path;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// open(2) result as 0 or errno.
int open_errno(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

}  // namespace

TEST_CASE("the default rules are runc's, in devices.list format") {
  CHECK(rule_strings(default_device_rules()) ==
        std::set<std::string>{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                              "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm"});
  auto policy = default_device_policy({{'c', 1, 1, "r"}});
  CHECK_FALSE(policy.allow_all);
  CHECK(device_rule_string(policy.allowed.back()) == "c 1:1 r");
  CHECK(device_rule_string(DeviceRule{}) == "a *:* rwm");
}

TEST_CASE("bad rules are refused before anything is written") {
  for (const DeviceRule& bad : {DeviceRule{'x', 1, 3, "r"}, DeviceRule{'c', 1, 3, ""}, DeviceRule{'c', 1, 3, "rx"},
                                DeviceRule{'c', -2, 3, "r"}, DeviceRule{'b', 1, int64_t{1} << 32, "r"}}) {
    CAPTURE(device_rule_string(bad));
    CHECK_THROWS_AS(validate_device_rule(bad), Error);
    CHECK_THROWS_AS(device_filter_program({bad}), Error);
  }
  FakeTree t;
  t.put("devices/ctr/devices.deny", "");
  DevicePolicy policy = default_device_policy({{'c', 1, 3, "rz"}});
  CHECK_THROWS_AS(apply_devices_v1(t.root() + "/devices/ctr", policy), Error);
  CHECK(t.get("devices/ctr/devices.deny").empty());  // nothing written
}

TEST_CASE("v1: the devices controller ends up with exactly the policy") {
  auto root = discover_cgroup_root();
  REQUIRE_MESSAGE(root.v1_mounts.count("devices"), "this test needs a v1 devices hierarchy");
  ScratchCgroupParent scratch(root);
  Cgroup ctr(root, scratch.path() + "/ctr");
  ctr.create();
  const std::string dir = ctr.controller_dir("devices");
  CHECK(read_cgroup_file(dir, "devices.list") == "a *:* rwm\n");  // inherited from the root

  DevicePolicy policy = default_device_policy({{'b', 254, 0, "r"}});
  ctr.apply_devices(policy);
  CHECK(lines_of(read_cgroup_file(dir, "devices.list")) == rule_strings(policy.allowed));

  Cgroup privileged(root, scratch.path() + "/privileged");
  privileged.create();
  privileged.apply_devices(DevicePolicy{true, {}});
  CHECK(read_cgroup_file(privileged.controller_dir("devices"), "devices.list") == "a *:* rwm\n");

  // A child cgroup can only narrow: allowing more than the parent holds is refused.
  Cgroup child(root, scratch.path() + "/ctr/child");
  child.create();
  CHECK(lines_of(read_cgroup_file(child.controller_dir("devices"), "devices.list")) == rule_strings(policy.allowed));
  CHECK_THROWS_AS(write_cgroup_file(child.controller_dir("devices"), "devices.allow", "b 8:0 r"), Error);
}

TEST_CASE("cgroup2: the BPF filter lets through exactly the allowed accesses") {
  auto host = discover_cgroup_root();
  REQUIRE_MESSAGE(!host.unified_mount.empty(), "this test needs a cgroup2 mount (unified or hybrid)");
  CgroupRoot unified_only;  // the scratch cgroup lives in the cgroup2 tree only
  unified_only.mode = CgroupMode::hybrid;
  unified_only.unified_mount = host.unified_mount;
  ScratchCgroupParent scratch(unified_only);
  const std::string cgroup_dir = host.unified_mount + scratch.path();
  REQUIRE(::mkdir(cgroup_dir.c_str(), 0755) == 0);

  NodeDir nodes;
  const std::string null_node = nodes.node("null", S_IFCHR, 1, 3);
  const std::string zero_node = nodes.node("zero", S_IFCHR, 1, 5);
  const std::string full_node = nodes.node("full", S_IFCHR, 1, 7);
  const std::string loop_node = nodes.node("loop", S_IFBLK, 7, 0);
  // Before the filter, this process (and a child anywhere) may use them all.
  CHECK(open_errno(full_node, O_RDONLY) == 0);

  DeviceFilter filter({{'c', kAnyDevice, kAnyDevice, "m"}, {'c', 1, 3, "rw"}, {'c', 1, 5, "r"}});
  filter.attach(cgroup_dir);

  // The child reports each check as one byte: the errno it got (0 = success).
  int report[2];
  REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
  ScopedChild child([&] {
    const int results[] = {
        open_errno(null_node, O_RDWR),    // c 1:3 rw: allowed
        open_errno(zero_node, O_RDONLY),  // c 1:5 r: allowed
        open_errno(zero_node, O_WRONLY),  // c 1:5 without w: denied
        open_errno(full_node, O_RDONLY),  // c 1:7 not listed: denied
        open_errno(loop_node, O_RDONLY),  // block devices not listed: denied
        ::mknod((nodes.dir() + "/made-c").c_str(), S_IFCHR | 0600, makedev(1, 7)) == 0 ? 0 : errno,  // c *:* m
        ::mknod((nodes.dir() + "/made-b").c_str(), S_IFBLK | 0600, makedev(7, 0)) == 0 ? 0 : errno,  // no b m
    };
    for (int r : results) {
      char c = static_cast<char>(r);
      if (::write(report[1], &c, 1) != 1) ::_exit(1);
    }
  });
  ::close(report[1]);
  write_cgroup_file(cgroup_dir, "cgroup.procs", std::to_string(child.pid()));
  child.release();
  char got[7] = {};
  size_t n = 0;
  for (ssize_t r; n < sizeof got && (r = ::read(report[0], got + n, sizeof got - n)) > 0;) n += static_cast<size_t>(r);
  ::close(report[0]);
  REQUIRE(n == sizeof got);
  CHECK(got[0] == 0);
  CHECK(got[1] == 0);
  CHECK(got[2] == EPERM);
  CHECK(got[3] == EPERM);
  CHECK(got[4] == EPERM);
  CHECK(got[5] == 0);
  CHECK(got[6] == EPERM);
  CHECK(child.wait() == 0);

  // Outside the cgroup nothing changed.
  CHECK(open_errno(full_node, O_RDONLY) == 0);
}

TEST_CASE("one loaded filter per policy, attached to many cgroups") {
  const std::vector<DeviceRule> policy = {{'c', 1, 3, "rw"}, {'c', 1, 5, "r"}};
  auto a = DeviceFilter::shared(policy);
  auto b = DeviceFilter::shared(policy);
  CHECK(a == b);
  auto other = DeviceFilter::shared({{'c', 1, 3, "rw"}});
  CHECK(other != a);
  CHECK(other->fd() != a->fd());

  auto host = discover_cgroup_root();
  REQUIRE_MESSAGE(!host.unified_mount.empty(), "this test needs a cgroup2 mount (unified or hybrid)");
  CgroupRoot unified_only;
  unified_only.mode = CgroupMode::hybrid;
  unified_only.unified_mount = host.unified_mount;
  ScratchCgroupParent scratch(unified_only);
  const std::string parent = host.unified_mount + scratch.path();
  REQUIRE(::mkdir(parent.c_str(), 0755) == 0);
  for (const char* name : {"/one", "/two"}) {
    REQUIRE(::mkdir((parent + name).c_str(), 0755) == 0);
    CHECK_NOTHROW(a->attach(parent + name));
  }
  // The same program twice on one cgroup is refused by the kernel: the caller learns of it.
  CHECK_THROWS_AS(a->attach(parent + "/one"), Error);
}

TEST_CASE("the program ends at a rule that allows everything") {
  auto all = device_filter_program({DeviceRule{}, {'c', 1, 3, "r"}});
  auto none = device_filter_program({});
  CHECK(all.size() == none.size());  // prologue + return 1 vs prologue + return 0
  CHECK(all.back().code == (BPF_JMP | BPF_EXIT));
  CHECK(all[all.size() - 2].imm == 1);
  CHECK(none[none.size() - 2].imm == 0);
  DeviceFilter loads(std::vector<DeviceRule>{DeviceRule{}});  // the verifier accepts it
  CHECK(loads.fd() >= 0);
}

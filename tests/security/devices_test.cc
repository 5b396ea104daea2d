// Device nodes: a root container may mknod any node (CAP_MKNOD stays, as with containerd), but
// the cgroup (v1 devices controller, cgroup2 BPF filter) lets it use only runc's default list
// and the devices its config asks for. Each test is one attack or one promise; see
// docs/security.md.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/security/attack_pod.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;

namespace {

struct BlockDevice {
  unsigned major = 0, minor = 0;
  std::string path;  // the host's node for it
  std::string nums() const { return std::to_string(major) + " " + std::to_string(minor); }
};

bool host_can_open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// The host's node of block device `sysfs_name` ("254:0"): /dev/<DEVNAME> as sysfs names it.
BlockDevice block_device(const std::string& sysfs_name) {
  BlockDevice d;
  char colon = 0;
  std::istringstream(sysfs_name) >> d.major >> colon >> d.minor;
  std::ifstream uevent("/sys/dev/block/" + sysfs_name + "/uevent");
  for (std::string line; std::getline(uevent, line);)
    if (line.rfind("DEVNAME=", 0) == 0) d.path = "/dev/" + line.substr(8);
  return d;
}

// A block device of the host that this (root, host) process can open: the disk of the host's
// root filesystem when allowed (what an attacker wants), else the first one that is (a machine
// that is itself sandboxed may refuse its own disk even to root).
BlockDevice host_block_device() {
  struct stat st {};
  REQUIRE(::stat("/", &st) == 0);
  std::vector<std::string> candidates = {std::to_string(::major(st.st_dev)) + ":" + std::to_string(::minor(st.st_dev))};
  for (const auto& e : std::filesystem::directory_iterator("/sys/dev/block")) candidates.push_back(e.path().filename().string());
  for (const std::string& name : candidates) {
    BlockDevice d = block_device(name);
    if (!d.path.empty() && host_can_open(d.path)) {
      MESSAGE("attacking block device " << d.path << " (" << name << ")");
      return d;
    }
  }
  FAIL("no block device the host itself can open");
  return {};
}

// Bytes the host reads from the start of `path`, at most 512.
size_t host_read_count(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char buf[512];
  in.read(buf, sizeof buf);
  return static_cast<size_t>(in.gcount());
}

bool denied(const Shell& s) { return s.exit_code != 0 && s.all().find("Operation not permitted") != std::string::npos; }

}  // namespace

TEST_CASE("devices_mknod") {
  Daemon d;
  start_pods_daemon(d);
  AttackPod pod(d, "mknod");
  pod.start_or_fail(sleeper_config("attacker", false));
  const BlockDevice disk = host_block_device();
  const std::string nums = disk.nums();

  // mknod itself is allowed (runc's "b *:* m"), opening the node is not.
  Shell made = pod.sh("mknod /tmp/disk b " + nums + " && echo made");
  CHECK(made.exit_code == 0);
  CHECK(made.out == "made\n");
  Shell read_disk = pod.sh("head -c 512 /tmp/disk | wc -c; exec 3</tmp/disk");
  CHECK_MESSAGE(denied(read_disk), "the container read the host's disk " << nums);
  CHECK(read_disk.out == "0\n");
  CHECK(denied(pod.sh("exec 3>>/tmp/disk")));  // nor open it for writing

  // Char devices outside the list: /dev/mem (1:1), /dev/loop-control (10:237).
  CHECK(denied(pod.sh("mknod /tmp/mem c 1 1 && exec 3</tmp/mem")));
  CHECK(denied(pod.sh("mknod /tmp/loopctl c 10 237 && exec 3</tmp/loopctl")));
  // Creating one under /dev changes nothing either.
  CHECK(denied(pod.sh("mknod /dev/disk b " + nums + " && exec 3</dev/disk")));

  // The default nodes still work.
  Shell defaults = pod.sh("head -c 4 /dev/zero | wc -c && echo x > /dev/null && head -c 4 /dev/urandom | wc -c");
  CHECK(defaults.exit_code == 0);
  CHECK(defaults.out == "4\n4\n");
}

// The container's root owns its /dev: what it does to the nodes there (chmod, chown, new
// times) must not reach the host's nodes, as it would if they were the host's bound in. The
// attack sets each node's mode and owner to the values the host's has, so a failure of this
// test changes nothing on the host but the nodes' change times (which it shows).
TEST_CASE("devices_host_nodes") {
  Daemon d;
  start_pods_daemon(d);
  AttackPod pod(d, "hostnodes");
  pod.start_or_fail(sleeper_config("attacker", false));
  for (const char* name : {"null", "zero", "full", "random", "urandom", "tty"}) {
    const std::string path = std::string("/dev/") + name;
    struct stat before {};
    REQUIRE(::stat(path.c_str(), &before) == 0);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%o", before.st_mode & 07777);
    Shell attack = pod.sh("chmod " + std::string(mode) + " " + path + " && chown " + std::to_string(before.st_uid) + ":" +
                          std::to_string(before.st_gid) + " " + path + " && touch -c " + path + " && echo done");
    CHECK_MESSAGE(attack.out == "done\n", path << ": " << attack.all());  // the container may change its own node
    struct stat after {};
    REQUIRE(::stat(path.c_str(), &after) == 0);
    CHECK_MESSAGE(after.st_ctim.tv_sec == before.st_ctim.tv_sec, "the container changed the host's " << path);
    CHECK_MESSAGE(after.st_ctim.tv_nsec == before.st_ctim.tv_nsec, "the container changed the host's " << path);
    CHECK_MESSAGE(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec, "the container touched the host's " << path);
  }
  // Its nodes are still the devices they should be.
  Shell nodes = pod.sh("stat -c '%n %t:%T %a %u:%g' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty");
  CHECK(nodes.out ==
        "/dev/null 1:3 666 0:0\n/dev/zero 1:5 666 0:0\n/dev/full 1:7 666 0:0\n/dev/random 1:8 666 0:0\n"
        "/dev/urandom 1:9 666 0:0\n/dev/tty 5:0 666 0:0\n");
}

TEST_CASE("devices_requested") {
  Daemon d;
  start_pods_daemon(d);
  AttackPod pod(d, "requested");
  auto config = sleeper_config("user", false);
  auto* zero = config.add_devices();
  zero->set_host_path("/dev/zero");
  zero->set_container_path("/dev/myzero");
  zero->set_permissions("rwm");
  auto* loopctl = config.add_devices();  // 10:237 is not in the default list: only "r" is granted
  loopctl->set_host_path("/dev/loop-control");
  loopctl->set_container_path("/dev/readonly-loopctl");
  loopctl->set_permissions("r");
  pod.start_or_fail(config);

  Shell zeros = pod.sh("head -c 16 /dev/myzero | wc -c; ls -l /dev/myzero");
  CHECK(zeros.exit_code == 0);
  CHECK(zeros.out.rfind("16\n", 0) == 0);
  CHECK(zeros.out.find("1,   5") != std::string::npos);  // a char node 1:5 of its own
  CHECK(pod.sh("exec 3</dev/readonly-loopctl && echo opened").out == "opened\n");
  CHECK(denied(pod.sh("exec 3>>/dev/readonly-loopctl")));

  // A host path that does not exist is a clear error, and creates nothing.
  auto missing = sleeper_config("missing", false);
  auto* nope = missing.add_devices();
  nope->set_host_path("/dev/vpcri-does-not-exist");
  nope->set_container_path("/dev/x");
  nope->set_permissions("r");
  std::string id;
  grpc::Status s = pod.start(missing, &id);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("/dev/vpcri-does-not-exist") != std::string::npos);
  CHECK(s.error_message().find("does not exist") != std::string::npos);
  CHECK(id.empty());
}

TEST_CASE("devices_privileged") {
  Daemon d;
  start_pods_daemon(d);
  AttackPod pod(d, "privileged", true);
  pod.start_or_fail(sleeper_config("admin", true));
  const BlockDevice disk = host_block_device();
  // Privileged means all devices, as with runc: the host's node, and one made by mknod, read as
  // far as the host itself reads it.
  const std::string expected = std::to_string(host_read_count(disk.path)) + "\n";
  Shell made = pod.sh("mknod /tmp/disk b " + disk.nums() + " && exec 3</tmp/disk && head -c 512 /tmp/disk | wc -c");
  CHECK(made.exit_code == 0);
  CHECK(made.out == expected);
  Shell host_node = pod.sh("exec 3<" + disk.path + " && head -c 512 " + disk.path + " | wc -c");
  CHECK(host_node.exit_code == 0);
  CHECK(host_node.out == expected);
}

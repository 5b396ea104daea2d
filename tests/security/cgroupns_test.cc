// The cgroup namespace: a container sees its own cgroup as "/" and a read-only /sys/fs/cgroup of
// its own (containerd's default cgroupns=private), so it learns nothing of the host's cgroup
// layout and cannot change its own limits.
#include <doctest/doctest.h>

#include <sstream>

#include "tests/security/attack_pod.h"

using namespace vpcri::test;

namespace {

// Every line of /proc/<pid>/cgroup ("<id>:<controllers>:<path>") with a path other than "/".
std::string lines_not_at_root(const std::string& proc_cgroup) {
  std::istringstream in(proc_cgroup);
  std::string bad;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line.substr(line.rfind(':') + 1) != "/") bad += line + "\n";
  }
  return bad;
}

}  // namespace

TEST_CASE("cgroupns_private") {
  Daemon d;
  start_pods_daemon(d);
  AttackPod pod(d, "cgroupns");
  pod.start_or_fail(sleeper_config("tenant", false));

  for (const char* who : {"self", "1"}) {  // an exec and the container's own process
    Shell cgroups = pod.sh(std::string("cat /proc/") + who + "/cgroup");
    REQUIRE(cgroups.exit_code == 0);
    CHECK_FALSE(cgroups.out.empty());
    CHECK_MESSAGE(lines_not_at_root(cgroups.out).empty(), "cgroup paths outside the namespace:\n" << cgroups.out);
  }

  // Its own cgroup is mounted (the pids controller's files are there), read-only.
  Shell mounts = pod.sh("grep ' /sys/fs/cgroup' /proc/self/mountinfo");
  CHECK(mounts.exit_code == 0);
  std::istringstream lines(mounts.out);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mountpoint, options;
    f >> id >> parent >> dev >> root >> mountpoint >> options;
    CHECK_MESSAGE(options.rfind("ro,", 0) == 0, line);
    CHECK_MESSAGE((root == "/" || mountpoint == "/sys/fs/cgroup"), line);  // each hierarchy rooted at our cgroup
  }
  CHECK(count > 0);
  Shell write = pod.sh("echo 1 > /sys/fs/cgroup/pids/pids.max || echo 1 > /sys/fs/cgroup/pids.max");
  CHECK(write.exit_code != 0);
  CHECK(write.all().find("Read-only file system") != std::string::npos);
  CHECK(pod.sh("mkdir /sys/fs/cgroup/escape").all().find("Read-only file system") != std::string::npos);
}

// The cgroup namespace: a container sees its own cgroup as "/" and a read-only /sys/fs/cgroup of
// its own (containerd's default cgroupns=private), so it learns nothing of the host's cgroup
// layout and cannot change its own limits.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/security/attack_pod.h"

using namespace vpcri::test;

namespace {

// Every line of /proc/<pid>/cgroup ("<id>:<controllers>:<path>") whose path is not `expected`;
// name=systemd, a hierarchy vpcri does not manage (no process is moved there), must be "/".
std::string lines_not_at(const std::string& proc_cgroup, const std::string& expected) {
  std::istringstream in(proc_cgroup);
  std::string bad;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const bool systemd = line.find(":name=systemd:") != std::string::npos;
    if (line.substr(line.rfind(':') + 1) != (systemd ? "/" : expected)) bad += line + "\n";
  }
  return bad;
}

// An ExecSync runs in a cgroup of its own just below the container's (docs/security.md), so it
// sees "/exec-<id>" in every controller but name=systemd (which vpcri does not manage): still
// inside the container's namespace, nothing of the host's layout.
std::string exec_cgroup_of(const std::string& proc_cgroup) {
  std::istringstream in(proc_cgroup);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.find(":name=systemd:") == std::string::npos) return line.substr(line.rfind(':') + 1);
  }
  return "";
}

// Where the host mounts its cgroup filesystems: /sys/fs/cgroup and the cgroup mounts below it.
std::set<std::string> host_cgroup_mountpoints() {
  std::ifstream in("/proc/self/mountinfo");
  std::set<std::string> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mountpoint;
    f >> id >> parent >> dev >> root >> mountpoint;
    const size_t dash = line.find(" - ");
    const std::string fstype = dash == std::string::npos ? "" : line.substr(dash + 3, line.find(' ', dash + 3) - dash - 3);
    if (mountpoint == "/sys/fs/cgroup" || (mountpoint.rfind("/sys/fs/cgroup/", 0) == 0 && fstype.rfind("cgroup", 0) == 0)) {
      out.insert(mountpoint);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("cgroupns_private") {
  Daemon d;
  start_pods_daemon(d);
  AttackPod pod(d, "cgroupns");
  pod.start_or_fail(sleeper_config("tenant", false));

  // The container's own process is at the namespace's root in every hierarchy.
  Shell main = pod.sh("cat /proc/1/cgroup");
  REQUIRE(main.exit_code == 0);
  CHECK_FALSE(main.out.empty());
  CHECK_MESSAGE(lines_not_at(main.out, "/").empty(), "cgroup paths outside the namespace:\n" << main.out);
  // An exec is one level below it, in its own exec cgroup, in every hierarchy vpcri manages.
  Shell exec = pod.sh("cat /proc/self/cgroup");
  REQUIRE(exec.exit_code == 0);
  const std::string own = exec_cgroup_of(exec.out);
  CHECK_MESSAGE(own.rfind("/exec-", 0) == 0, exec.out);
  CHECK_MESSAGE(own.find('/', 1) == std::string::npos, exec.out);
  CHECK_MESSAGE(lines_not_at(exec.out, own).empty(), "cgroup paths outside the namespace:\n" << exec.out);

  // Its own cgroup is mounted (the pids controller's files are there), read-only.
  Shell mounts = pod.sh("grep ' /sys/fs/cgroup' /proc/self/mountinfo");
  CHECK(mounts.exit_code == 0);
  std::istringstream lines(mounts.out);
  std::set<std::string> mountpoints;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mountpoint, options;
    f >> id >> parent >> dev >> root >> mountpoint >> options;
    CHECK_MESSAGE(options.rfind("ro,", 0) == 0, line);
    CHECK_MESSAGE((root == "/" || mountpoint == "/sys/fs/cgroup"), line);  // each hierarchy rooted at our cgroup
    mountpoints.insert(mountpoint);
  }
  // Laid out as the host's: every hierarchy at its place, co-mounted ones reached by its symlinks.
  CHECK_FALSE(mountpoints.empty());
  CHECK(mountpoints == host_cgroup_mountpoints());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    if (!entry.is_symlink()) continue;
    const std::string name = entry.path().filename().string();
    Shell link = pod.sh("readlink /sys/fs/cgroup/" + name);
    CHECK_MESSAGE(link.out == std::filesystem::read_symlink(entry.path()).string() + "\n", name);
  }
  Shell write = pod.sh("echo 1 > /sys/fs/cgroup/pids/pids.max || echo 1 > /sys/fs/cgroup/pids.max");
  CHECK(write.exit_code != 0);
  CHECK(write.all().find("Read-only file system") != std::string::npos);
  CHECK(pod.sh("mkdir /sys/fs/cgroup/escape").all().find("Read-only file system") != std::string::npos);
}

// Pinned pod namespaces: created, bind-mounted, and removed again.
#include "runtime/container/pod_namespaces.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "runtime/container/test_support.h"

using namespace vpcri::runtime::container;
using namespace vpcri::runtime::container::test;

namespace {

bool is_mount_point(const std::string& path) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mounts, line)) {
    if (line.find(" " + path + " ") != std::string::npos) return true;
  }
  return false;
}

std::string ns_link(const std::string& path) { return stdfs::read_symlink(path).string(); }

}  // namespace

TEST_CASE("runtime-container: pod namespaces are pinned as files, and unpinning is idempotent") {
  TempDir dir;
  std::string ns_dir = dir / "ns";
  struct Unpin {
    std::string dir;
    ~Unpin() { unpin_pod_namespaces(dir); }
  } guard{ns_dir};
  PodNamespaces ns = pin_pod_namespaces(ns_dir, {true, true, false, "pinned"});
  CHECK(ns.ipc == ns_dir + "/ipc");
  CHECK(ns.uts == ns_dir + "/uts");
  CHECK(ns.pid.empty());
  // A PID namespace is pinned from its first process (here: ours).
  std::string pid_path = pin_pid_namespace(ns_dir, ::getpid());
  CHECK(pid_path == ns_dir + "/pid");
  for (const auto& path : {ns.ipc, ns.uts, pid_path}) CHECK_MESSAGE(is_mount_point(path), path);
  struct stat pid_ns{};
  REQUIRE(::stat(pid_path.c_str(), &pid_ns) == 0);
  CHECK("pid:[" + std::to_string(pid_ns.st_ino) + "]" == ns_link("/proc/self/ns/pid"));
  struct stat ipc{}, uts{};
  REQUIRE(::stat(ns.ipc.c_str(), &ipc) == 0);
  REQUIRE(::stat(ns.uts.c_str(), &uts) == 0);
  CHECK("ipc:[" + std::to_string(ipc.st_ino) + "]" != ns_link("/proc/self/ns/ipc"));
  CHECK("uts:[" + std::to_string(uts.st_ino) + "]" != ns_link("/proc/self/ns/uts"));

  // A second pin in the same place fails and leaves the first one alone.
  CHECK_THROWS_AS(pin_pod_namespaces(ns_dir, {true, false, false, ""}), vpcri::Error);
  CHECK(is_mount_point(ns.ipc));

  unpin_pod_namespaces(ns_dir);
  for (const auto& path : {ns.ipc, ns.uts, pid_path}) {
    CHECK_FALSE(is_mount_point(path));
    CHECK_FALSE(vpcri::fs::exists(path));
  }
  unpin_pod_namespaces(ns_dir);  // again: nothing to do
  unpin_pod_namespaces(dir / "never-created");

  PodNamespaces only_ipc = pin_pod_namespaces(ns_dir, {true, false, false, ""});
  CHECK(only_ipc.uts.empty());
  CHECK(only_ipc.pid.empty());
  CHECK_FALSE(vpcri::fs::exists(ns_dir + "/uts"));
  CHECK_THROWS_WITH_AS(pin_pod_namespaces(dir / "other", {false, false, true, ""}),
                       doctest::Contains("cannot be pinned before its first process"), vpcri::Error);
}

// Pinned pod namespaces: created, bind-mounted, and removed again.
#include "runtime/container/pod_namespaces.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

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

vpcri::runtime::ProcessRef self() { return {::getpid(), *vpcri::runtime::process_start_time(::getpid())}; }

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
  std::string pid_path = pin_pid_namespace(ns_dir, self());
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

TEST_CASE("runtime-container: a PID namespace is pinned only from the very process named") {
  TempDir dir;
  std::string path = dir / "pidns";
  // A process that has ended (and was reaped): its pid may name another process by now.
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  auto start = vpcri::runtime::process_start_time(child);
  REQUIRE(::waitpid(child, nullptr, 0) == child);
  vpcri::runtime::ProcessRef gone{child, start.value_or(1)};
  CHECK_THROWS_WITH_AS(pin_pid_namespace_at(path, gone), doctest::Contains("no longer running"), vpcri::Error);
  // Our own pid with another start time: a recycled pid, refused too.
  vpcri::runtime::ProcessRef recycled{::getpid(), self().start_time + 1};
  CHECK_THROWS_WITH_AS(pin_pid_namespace_at(path, recycled), doctest::Contains("no longer running"), vpcri::Error);
  CHECK_FALSE(vpcri::fs::exists(path));

  pin_pid_namespace_at(path, self());
  CHECK(is_mount_point(path));
  CHECK_THROWS_AS(pin_pid_namespace_at(path, self()), vpcri::Error);  // never stacked
  unpin_namespace(path);
  CHECK_FALSE(is_mount_point(path));
  CHECK_FALSE(vpcri::fs::exists(path));
  unpin_namespace(path);
}

TEST_CASE("runtime-container: concurrent pins do not wait on each other") {
  // Each holder child inherits every fd open in the process at its fork, including the pipe ends
  // of pins running in other threads; it must close them, or those pins never finish (a bug
  // once seen as a hang of concurrent RunPodSandbox). A regression hangs here until the test's
  // timeout.
  TempDir dir;
  constexpr int kThreads = 12, kRounds = 5;
  std::vector<std::thread> threads;
  std::atomic<int> pinned{0};
  std::mutex mu;
  std::vector<std::string> errors;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; round++) {
        std::string ns_dir = dir / ("ns-" + std::to_string(t) + "-" + std::to_string(round));
        try {
          PodNamespaces ns = pin_pod_namespaces(ns_dir, {true, true, false, "concurrent"});
          if (is_mount_point(ns.ipc) && is_mount_point(ns.uts)) pinned++;
        } catch (const std::exception& e) {
          std::lock_guard lock(mu);
          errors.push_back(e.what());
        }
        unpin_pod_namespaces(ns_dir);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK_MESSAGE(errors.empty(), (errors.empty() ? "" : errors.front()));
  CHECK(pinned == kThreads * kRounds);
}

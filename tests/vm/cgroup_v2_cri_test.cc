// vpcrid on a cgroup-v2-only node (the guest of run-in-vm.sh), through the CRI: the limits a
// pod's container asks for land in its cgroup2 files, the kernel enforces them (CPU quota
// throttles), UpdateContainerResources changes them live, stats come from the v2 files, and
// removal leaves no cgroup. Needs cgroup2 alone at /sys/fs/cgroup: suite 'vm' only.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "common/fs.h"
#include "tests/integration/cgroup_layout.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
using namespace std::chrono_literals;

namespace {

std::string trimmed(const std::string& path) {
  std::string s = vpcri::fs::read_file(path);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A "key value" line of a flat-keyed cgroup2 file (cpu.stat, memory.events).
uint64_t keyed(const std::string& path, const std::string& key) {
  std::istringstream in(vpcri::fs::read_file(path));
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  FAIL("no " << key << " in " << path);
  return 0;
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  for (std::string w; in >> w;)
    if (w == word) return true;
  return false;
}

v1::PodSandboxConfig pod_config(const std::string& name, const std::string& cgroup_parent) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.mutable_linux()->set_cgroup_parent(cgroup_parent);
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}

v1::ContainerConfig busy_container(const std::string& name) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(kTestImage);
  c.add_command("/bin/sh");
  c.add_command("-c");
  c.add_args("while :; do :; done");
  auto* r = c.mutable_linux()->mutable_resources();
  r->set_cpu_period(100000);
  r->set_cpu_quota(20000);  // a fifth of a CPU
  r->set_cpu_shares(512);
  r->set_memory_limit_in_bytes(64 << 20);
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}

}  // namespace

TEST_CASE("cgroup v2: limits in the container's files, CPU quota enforced, live update, stats, no leftover") {
  REQUIRE_MESSAGE(unified_cgroups(), "this test runs in the cgroup-v2-only guest of tests/vm/run-in-vm.sh");
  Daemon d;
  d.set_config(pods_config_yaml());
  d.start();
  // As kubelet's cgroupfs driver sends it; vpcri makes the levels that are not there.
  const std::string parent = "/kubepods/burstable/pod-uid-v2-" + std::to_string(::getpid());
  Pod pod(d, pod_config("v2", parent));
  const std::string id = run_container(d, pod, busy_container("busy"));
  const std::string cgroup = container_cgroup_path(d, id);
  CHECK(cgroup == parent + "/" + id);
  const std::string dir = "/sys/fs/cgroup" + cgroup;

  // Every level down to the container offers the controllers its limits need.
  for (std::string level = "/sys/fs/cgroup" + parent; level.size() >= std::string("/sys/fs/cgroup").size();
       level.resize(level.rfind('/'))) {
    CAPTURE(level);
    const std::string enabled = vpcri::fs::read_file(level + "/cgroup.subtree_control");
    for (const char* controller : {"cpu", "memory", "pids"}) CHECK_MESSAGE(has_word(enabled, controller), enabled);
  }
  CHECK(trimmed(dir + "/cpu.max") == "20000 100000");
  CHECK(trimmed(dir + "/cpu.weight") == "20");  // 512 shares, converted as kubelet does
  CHECK(trimmed(dir + "/memory.max") == std::to_string(64 << 20));
  CHECK(trimmed(dir + "/cgroup.type") == "domain");

  // The kernel enforces the quota: the busy loop gets throttled.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (keyed(dir + "/cpu.stat", "nr_throttled") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(200ms);
  CHECK(keyed(dir + "/cpu.stat", "nr_throttled") > 0);
  CHECK(keyed(dir + "/cpu.stat", "throttled_usec") > 0);

  // A live update rewrites the files.
  {
    v1::UpdateContainerResourcesRequest req;
    req.set_container_id(id);
    req.mutable_linux()->set_cpu_period(100000);
    req.mutable_linux()->set_cpu_quota(50000);
    req.mutable_linux()->set_memory_limit_in_bytes(128 << 20);
    v1::UpdateContainerResourcesResponse resp;
    grpc::Status s = d.runtime().UpdateContainerResources(context().get(), req, &resp);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    CHECK(trimmed(dir + "/cpu.max") == "50000 100000");
    CHECK(trimmed(dir + "/memory.max") == std::to_string(128 << 20));
  }

  // Stats come from cpu.stat, memory.current / memory.stat.
  {
    v1::ContainerStatsRequest req;
    req.set_container_id(id);
    v1::ContainerStatsResponse resp;
    grpc::Status s = d.runtime().ContainerStats(context().get(), req, &resp);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    CHECK(resp.stats().cpu().usage_core_nano_seconds().value() >= keyed(dir + "/cpu.stat", "usage_usec") / 2 * 1000);
    CHECK(resp.stats().cpu().usage_core_nano_seconds().value() > 0);
    CHECK(resp.stats().memory().working_set_bytes().value() > 0);
    CHECK(resp.stats().memory().working_set_bytes().value() <= std::stoull(trimmed(dir + "/memory.current")) * 2);
  }

  // Removal takes the container's and the pod's cgroups, and the parents vpcri made.
  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(pod.id());
  v1::StopPodSandboxResponse stopped;
  REQUIRE(d.runtime().StopPodSandbox(context(60s).get(), stop, &stopped).ok());
  REQUIRE(remove_pod(d, pod.id()).ok());
  pod.forget();
  CHECK_FALSE(std::filesystem::exists(dir));
  CHECK_FALSE(std::filesystem::exists("/sys/fs/cgroup/kubepods"));
}

TEST_CASE("cgroup v2: a pod's processes and an ExecSync stay within the pod's cgroup; pids.current counts them") {
  REQUIRE(unified_cgroups());
  Daemon d;
  d.set_config(pods_config_yaml());
  d.start();
  Pod pod(d, pod_config("pids", "/vpcri-v2-pids-" + std::to_string(::getpid())));
  v1::ContainerConfig c = busy_container("sleeper");
  c.clear_args();
  c.add_args("sleep 1000 & sleep 1000 & wait");
  const std::string id = run_container(d, pod, c);
  const std::string dir = "/sys/fs/cgroup" + container_cgroup_path(d, id);
  // sh and its two sleeps.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (trimmed(dir + "/pids.current") != "3" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  CHECK(trimmed(dir + "/pids.current") == "3");
  // The exec runs in a cgroup of its own below the container's, then that cgroup is gone.
  CHECK(sh_output(d, id, "cat /proc/self/cgroup").rfind("0::/exec-", 0) == 0);
  size_t children = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) children += e.is_directory();
  CHECK(children == 0);
}

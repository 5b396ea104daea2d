// vpcrid with cgroup_driver: systemd on a cgroup-v2-only node whose init is systemd (the guest of
// run-in-vm.sh --systemd), through the CRI: a kubelet-style slice as cgroup_parent, each
// container and pause in a transient scope with its limits as systemd properties (seen by
// `systemctl show` and in the cgroup files), UpdateContainerResources through systemd, ExecSync,
// a kill -9 of vpcrid that leaves the scopes running and re-adopted, and no scope after removal.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common/fs.h"
#include "tests/integration/cgroup_layout.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
using namespace std::chrono_literals;

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string file(const std::string& path) { return trimmed(vpcri::fs::read_file(path)); }

// `systemctl show -p NAME --value UNIT`: systemd's own view of the unit.
std::string unit_property(const std::string& unit, const std::string& name) {
  std::string cmd = "systemctl show -p " + name + " --value " + unit;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  REQUIRE_MESSAGE(::pclose(p) == 0, cmd);
  return trimmed(out);
}

v1::PodSandboxConfig pod_config(const std::string& name, const std::string& cgroup_parent) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.mutable_linux()->set_cgroup_parent(cgroup_parent);
  return c;
}

v1::ContainerConfig sleeper(const std::string& name) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(kTestImage);
  c.add_command("/bin/sh");
  c.add_command("-c");
  c.add_args("exec sleep 1000");
  auto* r = c.mutable_linux()->mutable_resources();
  r->set_cpu_period(100000);
  r->set_cpu_quota(20000);
  r->set_cpu_shares(512);
  r->set_memory_limit_in_bytes(64 << 20);
  return c;
}

// A stopped scope is unloaded by systemd's garbage collection a moment later.
bool unit_gone(const std::string& unit) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (unit_property(unit, "LoadState") != "not-found" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  return unit_property(unit, "LoadState") == "not-found";
}

}  // namespace

TEST_CASE("systemd driver: scopes in kubelet's slice, limits via systemd, update, exec, restart, no leftover") {
  const bool systemd_guest = unified_cgroups() && std::filesystem::exists("/run/systemd/system");
  REQUIRE_MESSAGE(systemd_guest, "this test runs in the systemd guest of tests/vm/run-in-vm.sh --systemd");
  Daemon d;
  d.set_config(pods_config_yaml() + "cgroup_driver: systemd\n");
  d.start();
  {
    v1::RuntimeConfigRequest req;
    v1::RuntimeConfigResponse resp;
    REQUIRE(d.runtime().RuntimeConfig(context().get(), req, &resp).ok());
    CHECK(resp.linux().cgroup_driver() == v1::CgroupDriver::SYSTEMD);
  }
  // A cgroupfs path or a malformed slice is refused before anything is made.
  for (const char* bad : {"/kubepods/burstable/pod1", "kubepods--x.slice", "-.slice"}) {
    CAPTURE(bad);
    std::string id;
    grpc::Status s = run_pod(d, pod_config("bad", bad), &id);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }

  const std::string uid = "4f1e2d3c_" + std::to_string(::getpid());
  const std::string slice = "kubepods-burstable-pod" + uid + ".slice";
  Pod pod(d, pod_config("sd", slice));
  const std::string id = run_container(d, pod, sleeper("sleeper"));
  const std::string scope = "vpcri-" + id + ".scope";
  const std::string cgroup = container_cgroup_path(d, id);
  CHECK(cgroup == "/kubepods.slice/kubepods-burstable.slice/" + slice + "/" + scope);
  const std::string dir = "/sys/fs/cgroup" + cgroup;

  // systemd's view of the scope, and the kernel's.
  CHECK(unit_property(scope, "ActiveState") == "active");
  CHECK(unit_property(scope, "Slice") == slice);
  CHECK(unit_property(scope, "Delegate") == "yes");
  CHECK(unit_property(scope, "ControlGroup") == cgroup);
  CHECK(unit_property(scope, "CPUWeight") == "20");
  CHECK(unit_property(scope, "CPUQuotaPerSecUSec") == "200ms");
  CHECK(unit_property(scope, "MemoryMax") == std::to_string(64 << 20));
  CHECK(file(dir + "/cpu.max") == "20000 100000");
  CHECK(file(dir + "/cpu.weight") == "20");
  CHECK(file(dir + "/memory.max") == std::to_string(64 << 20));
  const std::string pause_scope = "vpcri-" + pod.id() + ".scope";
  CHECK(unit_property(pause_scope, "ActiveState") == "active");
  CHECK(unit_property(pause_scope, "Slice") == slice);

  // A live update goes through systemd and lands in the files.
  {
    v1::UpdateContainerResourcesRequest req;
    req.set_container_id(id);
    req.mutable_linux()->set_cpu_period(100000);
    req.mutable_linux()->set_cpu_quota(50000);
    req.mutable_linux()->set_memory_limit_in_bytes(128 << 20);
    v1::UpdateContainerResourcesResponse resp;
    grpc::Status s = d.runtime().UpdateContainerResources(context().get(), req, &resp);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    CHECK(unit_property(scope, "CPUQuotaPerSecUSec") == "500ms");
    CHECK(unit_property(scope, "MemoryMax") == std::to_string(128 << 20));
    CHECK(file(dir + "/cpu.max") == "50000 100000");
    CHECK(file(dir + "/memory.max") == std::to_string(128 << 20));
  }
  // ExecSync runs in a cgroup below the scope (delegated to vpcri).
  CHECK(sh_output(d, id, "cat /proc/self/cgroup").rfind("0::/exec-", 0) == 0);

  // An allocation over MemoryMax is OOM-killed and reported so, though systemd collects the
  // emptied scope (and its memory.events) at about the time the monitor reads it.
  {
    v1::ContainerConfig hog = sleeper("hog");
    hog.clear_args();
    hog.add_args("x=0123456789abcdef; while true; do x=$x$x; done");
    hog.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(16 << 20);
    const std::string hog_id = run_container(d, pod, hog);
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (container_status(d, hog_id).state() != v1::CONTAINER_EXITED && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(200ms);
    const v1::ContainerStatus st = container_status(d, hog_id);
    CHECK(st.state() == v1::CONTAINER_EXITED);
    CHECK(st.reason() == "OOMKilled");
    CHECK(st.exit_code() == 137);
    CHECK(unit_gone("vpcri-" + hog_id + ".scope"));  // empty: stopped and collected by systemd
  }

  // kill -9 of vpcrid: the scopes keep running and the container is re-adopted.
  d.kill9();
  CHECK(unit_property(scope, "ActiveState") == "active");
  d.start();
  CHECK(container_status(d, id).state() == v1::CONTAINER_RUNNING);
  CHECK(sh_output(d, id, "echo alive") == "alive\n");

  // Removal stops the scopes: systemd forgets them and their cgroups are gone.
  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(pod.id());
  v1::StopPodSandboxResponse stopped;
  grpc::Status s = d.runtime().StopPodSandbox(context(60s).get(), stop, &stopped);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  s = remove_pod(d, pod.id());
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  pod.forget();
  CHECK(unit_gone(scope));
  CHECK(unit_gone(pause_scope));
  CHECK_FALSE(std::filesystem::exists(dir));
}

// CRI semantics where kubelet's conformance tests expect what containerd and CRI-O do: PID
// namespace modes (POD, CONTAINER, TARGET) and volume mount propagation, through the CRI socket
// against the real vpcrid. Every pod is removed by a guard and every mount the test makes is
// unmounted by one, also when a check fails.
#include <doctest/doctest.h>
#include <sys/mount.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "common/fs.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
using namespace std::chrono_literals;

namespace {

v1::PodSandboxConfig pod_with_pid_mode(const std::string& name, v1::NamespaceMode pid) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(pid);
  return c;
}

v1::ContainerConfig sleeper(const std::string& name) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(kTestImage);
  c.add_command("/bin/sleep");
  c.add_args("1000");
  return c;
}

grpc::Status create_in(Daemon& d, const Pod& pod, const v1::ContainerConfig& config, std::string* id) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod.id());
  *req.mutable_config() = config;
  *req.mutable_sandbox_config() = pod.config();
  v1::CreateContainerResponse resp;
  grpc::Status s = d.runtime().CreateContainer(context(60s).get(), req, &resp);
  *id = resp.container_id();
  return s;
}

std::string started(Daemon& d, const Pod& pod, const v1::ContainerConfig& config) {
  std::string id;
  grpc::Status s = create_in(d, pod, config, &id);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  v1::StartContainerRequest req;
  req.set_container_id(id);
  v1::StartContainerResponse resp;
  s = d.runtime().StartContainer(context(60s).get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return id;
}

// Runs `script` in the container; its stdout, and its exit code checked to be 0.
std::string sh(Daemon& d, const std::string& id, const std::string& script) {
  v1::ExecSyncRequest req;
  req.set_container_id(id);
  for (const char* arg : {"/bin/sh", "-c"}) req.add_cmd(arg);
  req.add_cmd(script);
  req.set_timeout(20);
  v1::ExecSyncResponse resp;
  grpc::Status s = d.runtime().ExecSync(context(30s).get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  CHECK_MESSAGE(resp.exit_code() == 0, script << ": " << resp.stderr());
  return resp.stdout();
}

bool has_mount_under(const std::string& dir, const std::string& part) {
  std::istringstream in(vpcri::fs::read_file("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(" " + dir) != std::string::npos && line.find(part) != std::string::npos) return true;
  }
  return false;
}

bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 50; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

// A tmpfs the test mounts on <dir>/<name> with the given propagation (MS_SHARED, MS_PRIVATE),
// unmounted with everything below it (also what propagated into it) however the test ends.
class TestMount {
 public:
  TestMount(const std::string& dir, const std::string& name, unsigned long propagation) : path_(dir + "/" + name) {
    vpcri::fs::mkdir_p(path_);
    REQUIRE(::mount("vpcri-test", path_.c_str(), "tmpfs", 0, "size=4m") == 0);
    mounted_ = true;
    REQUIRE(::mount(nullptr, path_.c_str(), nullptr, propagation, nullptr) == 0);
  }
  ~TestMount() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  TestMount(const TestMount&) = delete;
  TestMount& operator=(const TestMount&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool mounted_ = false;
};

v1::ContainerConfig with_volume(v1::ContainerConfig c, const std::string& host_path, v1::MountPropagation propagation,
                                bool privileged) {
  auto* m = c.add_mounts();
  m->set_host_path(host_path);
  m->set_container_path("/vol");
  m->set_propagation(propagation);
  c.mutable_linux()->mutable_security_context()->set_privileged(privileged);
  return c;
}

}  // namespace

TEST_CASE("PID namespace modes: POD joins pause's even when the pod shares none; CONTAINER; TARGET") {
  Daemon d;
  d.set_config(pods_config_yaml());
  d.start();
  // kubelet's pod without shareProcessNamespace; its containers are CONTAINER, but POD (the
  // default of an unset namespace_options) must work as with containerd and CRI-O.
  Pod pod(d, pod_with_pid_mode("pids", v1::CONTAINER));
  Pod other_pod(d, pod_with_pid_mode("pids-other", v1::CONTAINER));

  const std::string joined = started(d, pod, sleeper("pod-default"));  // namespace_options unset
  CHECK(sh(d, joined, "cat /proc/1/cmdline | tr '\\0' ' '") == "/pause ");

  auto own_config = sleeper("own");
  own_config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  const std::string own = started(d, pod, own_config);
  CHECK(sh(d, own, "cat /proc/1/cmdline | tr '\\0' ' '") == "/bin/sleep 1000 ");
  CHECK(sh(d, own, "readlink /proc/self/ns/pid") != sh(d, joined, "readlink /proc/self/ns/pid"));

  auto target_config = sleeper("target");
  auto* ns = target_config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_pid(v1::TARGET);
  ns->set_target_id(own);
  std::string target;
  REQUIRE(create_in(d, pod, target_config, &target).ok());
  // Pinned at creation: the namespace file, not a pid looked up again at start.
  CHECK(has_mount_under(d.state(), target + "/target-pidns"));
  v1::StartContainerRequest start;
  start.set_container_id(target);
  v1::StartContainerResponse start_resp;
  grpc::Status s = d.runtime().StartContainer(context(60s).get(), start, &start_resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  CHECK(sh(d, target, "readlink /proc/self/ns/pid") == sh(d, own, "readlink /proc/self/ns/pid"));
  CHECK(sh(d, target, "cat /proc/1/cmdline | tr '\\0' ' '") == "/bin/sleep 1000 ");

  // A target in another pod is refused, as containerd does.
  std::string refused;
  target_config.mutable_metadata()->set_name("target-elsewhere");
  s = create_in(d, other_pod, target_config, &refused);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_MESSAGE(s.error_message().find("belongs to another pod sandbox") != std::string::npos, s.error_message());

  v1::RemoveContainerRequest rm;
  rm.set_container_id(target);
  v1::RemoveContainerResponse removed;
  s = d.runtime().RemoveContainer(context(60s).get(), rm, &removed);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  CHECK_FALSE(has_mount_under(d.state(), target));
}

TEST_CASE("mount propagation: bidirectional both ways, host-to-container one way, a private source refused") {
  TempDir host;
  TestMount shared(host.path(), "shared", MS_SHARED);
  TestMount priv(host.path(), "private", MS_PRIVATE);
  Daemon d;
  d.set_config(pods_config_yaml());
  d.start();
  Pod pod(d, pod_with_pid_mode("propagation", v1::CONTAINER));
  const std::string vol = shared.path();

  SUBCASE("bidirectional (rshared)") {
    const std::string id = started(d, pod, with_volume(sleeper("bi"), vol, v1::PROPAGATION_BIDIRECTIONAL, true));
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    v1::ContainerStatusResponse resp;
    REQUIRE(d.runtime().ContainerStatus(context().get(), req, &resp).ok());
    REQUIRE(resp.status().mounts_size() == 1);
    CHECK(resp.status().mounts(0).propagation() == v1::PROPAGATION_BIDIRECTIONAL);

    // Container -> host.
    sh(d, id, "mkdir /vol/from-ctr && mount -t tmpfs ctr /vol/from-ctr && echo ctr > /vol/from-ctr/file");
    CHECK(eventually([&] { return vpcri::fs::exists(vol + "/from-ctr/file"); }));
    CHECK(has_mount_under(vol + "/from-ctr", "tmpfs"));
    // Host -> container.
    vpcri::fs::mkdir_p(vol + "/from-host");
    REQUIRE(::mount("host", (vol + "/from-host").c_str(), "tmpfs", 0, "size=1m") == 0);
    std::ofstream(vol + "/from-host/file") << "host\n";
    CHECK(sh(d, id, "cat /vol/from-host/file") == "host\n");
  }

  SUBCASE("host to container (rslave)") {
    const std::string id = started(d, pod, with_volume(sleeper("slave"), vol, v1::PROPAGATION_HOST_TO_CONTAINER, true));
    vpcri::fs::mkdir_p(vol + "/from-host");
    REQUIRE(::mount("host", (vol + "/from-host").c_str(), "tmpfs", 0, "size=1m") == 0);
    std::ofstream(vol + "/from-host/file") << "host\n";
    CHECK(sh(d, id, "cat /vol/from-host/file") == "host\n");
    // The container's own mount stays inside: the host sees the directory (same tmpfs), not the mount.
    sh(d, id, "mkdir /vol/from-ctr && mount -t tmpfs ctr /vol/from-ctr && echo ctr > /vol/from-ctr/file");
    CHECK(sh(d, id, "cat /vol/from-ctr/file") == "ctr\n");
    CHECK(vpcri::fs::exists(vol + "/from-ctr"));
    CHECK_FALSE(vpcri::fs::exists(vol + "/from-ctr/file"));
    CHECK_FALSE(has_mount_under(vol + "/from-ctr", "tmpfs"));
  }

  SUBCASE("a source on a private mount is refused, naming the path and its mount") {
    std::string id;
    grpc::Status s = create_in(d, pod, with_volume(sleeper("bi"), priv.path(), v1::PROPAGATION_BIDIRECTIONAL, true), &id);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_MESSAGE(s.error_message().find("path \"" + priv.path() + "\" is mounted on \"" + priv.path() +
                                         "\" but it is not a shared mount") != std::string::npos,
                  s.error_message());
    s = create_in(d, pod, with_volume(sleeper("slave"), priv.path(), v1::PROPAGATION_HOST_TO_CONTAINER, false), &id);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_MESSAGE(s.error_message().find("is not a shared or slave mount") != std::string::npos, s.error_message());
    // Private propagation needs nothing of the source.
    CHECK(!started(d, pod, with_volume(sleeper("private"), priv.path(), v1::PROPAGATION_PRIVATE, false)).empty());
  }
}

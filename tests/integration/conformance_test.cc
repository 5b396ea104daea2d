// CRI semantics where kubelet's conformance tests expect what containerd and CRI-O do: PID
// namespace modes (POD, CONTAINER, TARGET), volume mount propagation and the lifecycle event
// stream kubelet's evented PLEG follows, through the CRI socket against the real vpcrid. Every
// pod is removed by a guard and every mount the test makes is unmounted by one, also when a
// check fails.
#include <doctest/doctest.h>
#include <sys/mount.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
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

  const std::string joined = run_container(d, pod, sleeper("pod-default"));  // namespace_options unset
  CHECK(sh_output(d, joined, "cat /proc/1/cmdline | tr '\\0' ' '") == "/pause ");

  auto own_config = sleeper("own");
  own_config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  const std::string own = run_container(d, pod, own_config);
  CHECK(sh_output(d, own, "cat /proc/1/cmdline | tr '\\0' ' '") == "/bin/sleep 1000 ");
  CHECK(sh_output(d, own, "readlink /proc/self/ns/pid") != sh_output(d, joined, "readlink /proc/self/ns/pid"));

  auto target_config = sleeper("target");
  auto* ns = target_config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_pid(v1::TARGET);
  ns->set_target_id(own);
  std::string target;
  REQUIRE(create_container(d, pod, target_config, &target).ok());
  // Pinned at creation: the namespace file, not a pid looked up again at start.
  CHECK(has_mount_under(d.state(), target + "/target-pidns"));
  grpc::Status s = start_container(d, target);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  CHECK(sh_output(d, target, "readlink /proc/self/ns/pid") == sh_output(d, own, "readlink /proc/self/ns/pid"));
  CHECK(sh_output(d, target, "cat /proc/1/cmdline | tr '\\0' ' '") == "/bin/sleep 1000 ");

  // A target in another pod is refused, as containerd does.
  std::string refused;
  target_config.mutable_metadata()->set_name("target-elsewhere");
  s = create_container(d, other_pod, target_config, &refused);
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
    const std::string id = run_container(d, pod, with_volume(sleeper("bi"), vol, v1::PROPAGATION_BIDIRECTIONAL, true));
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    v1::ContainerStatusResponse resp;
    REQUIRE(d.runtime().ContainerStatus(context().get(), req, &resp).ok());
    REQUIRE(resp.status().mounts_size() == 1);
    CHECK(resp.status().mounts(0).propagation() == v1::PROPAGATION_BIDIRECTIONAL);

    // Container -> host.
    sh_output(d, id, "mkdir /vol/from-ctr && mount -t tmpfs ctr /vol/from-ctr && echo ctr > /vol/from-ctr/file");
    CHECK(eventually([&] { return vpcri::fs::exists(vol + "/from-ctr/file"); }));
    CHECK(has_mount_under(vol + "/from-ctr", "tmpfs"));
    // Host -> container.
    vpcri::fs::mkdir_p(vol + "/from-host");
    REQUIRE(::mount("host", (vol + "/from-host").c_str(), "tmpfs", 0, "size=1m") == 0);
    std::ofstream(vol + "/from-host/file") << "host\n";
    CHECK(sh_output(d, id, "cat /vol/from-host/file") == "host\n");
  }

  SUBCASE("host to container (rslave)") {
    const std::string id = run_container(d, pod, with_volume(sleeper("slave"), vol, v1::PROPAGATION_HOST_TO_CONTAINER, true));
    vpcri::fs::mkdir_p(vol + "/from-host");
    REQUIRE(::mount("host", (vol + "/from-host").c_str(), "tmpfs", 0, "size=1m") == 0);
    std::ofstream(vol + "/from-host/file") << "host\n";
    CHECK(sh_output(d, id, "cat /vol/from-host/file") == "host\n");
    // The container's own mount stays inside: the host sees the directory (same tmpfs), not the mount.
    sh_output(d, id, "mkdir /vol/from-ctr && mount -t tmpfs ctr /vol/from-ctr && echo ctr > /vol/from-ctr/file");
    CHECK(sh_output(d, id, "cat /vol/from-ctr/file") == "ctr\n");
    CHECK(vpcri::fs::exists(vol + "/from-ctr"));
    CHECK_FALSE(vpcri::fs::exists(vol + "/from-ctr/file"));
    CHECK_FALSE(has_mount_under(vol + "/from-ctr", "tmpfs"));
  }

  SUBCASE("a source on a private mount is refused, naming the path and its mount") {
    std::string id;
    grpc::Status s = create_container(d, pod, with_volume(sleeper("bi"), priv.path(), v1::PROPAGATION_BIDIRECTIONAL, true), &id);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_MESSAGE(s.error_message().find("path \"" + priv.path() + "\" is mounted on \"" + priv.path() +
                                         "\" but it is not a shared mount") != std::string::npos,
                  s.error_message());
    s = create_container(d, pod, with_volume(sleeper("slave"), priv.path(), v1::PROPAGATION_HOST_TO_CONTAINER, false), &id);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_MESSAGE(s.error_message().find("is not a shared or slave mount") != std::string::npos, s.error_message());
    // Private propagation needs nothing of the source.
    CHECK(!run_container(d, pod, with_volume(sleeper("private"), priv.path(), v1::PROPAGATION_PRIVATE, false)).empty());
  }
}

namespace {

// Follows GetContainerEvents on a thread from construction (once the server has subscribed it)
// to destruction.
class EventRecorder {
 public:
  explicit EventRecorder(Daemon& d) : reader_(d.runtime().GetContainerEvents(&context_, v1::GetEventsRequest())) {
    reader_->WaitForInitialMetadata();
    thread_ = std::thread([this] {
      v1::ContainerEventResponse e;
      while (reader_->Read(&e)) {
        std::lock_guard lock(mu_);
        events_.push_back(e);
      }
    });
  }
  ~EventRecorder() {
    context_.TryCancel();
    thread_.join();
    reader_->Finish();
  }
  std::vector<v1::ContainerEventResponse> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  // Waits until an event of `type` for `id` has arrived; returns it.
  std::optional<v1::ContainerEventResponse> await(const std::string& id, v1::ContainerEventType type) const {
    std::optional<v1::ContainerEventResponse> found;
    eventually([&] {
      for (const auto& e : events()) {
        if (e.container_id() == id && e.container_event_type() == type) found = e;
      }
      return found.has_value();
    });
    return found;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::ContainerEventResponse>> reader_;
  mutable std::mutex mu_;
  std::vector<v1::ContainerEventResponse> events_;
  std::thread thread_;
};

const v1::ContainerStatus* status_of(const v1::ContainerEventResponse& e, const std::string& id) {
  for (const auto& s : e.containers_statuses()) {
    if (s.id() == id) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("GetContainerEvents: created, started, stopped and deleted for containers and the sandbox, with statuses") {
  Daemon d;
  d.set_config(pods_config_yaml());
  d.start();
  EventRecorder recorder(d);
  Pod pod(d, pod_with_pid_mode("events", v1::CONTAINER));

  auto sandbox_started = recorder.await(pod.id(), v1::CONTAINER_STARTED_EVENT);
  REQUIRE(sandbox_started.has_value());
  CHECK(sandbox_started->pod_sandbox_status().id() == pod.id());
  CHECK(sandbox_started->pod_sandbox_status().state() == v1::SANDBOX_READY);
  CHECK(sandbox_started->created_at() > 0);

  const std::string id = run_container(d, pod, sleeper("events-sleeper"));
  auto container_started = recorder.await(id, v1::CONTAINER_STARTED_EVENT);
  REQUIRE(container_started.has_value());
  REQUIRE(status_of(*container_started, id) != nullptr);
  CHECK(status_of(*container_started, id)->state() == v1::CONTAINER_RUNNING);
  CHECK(container_started->pod_sandbox_status().id() == pod.id());

  // An exit the reaper sees (not a StopContainer) is published too, with the exit code.
  const std::string quitter = run_shell_container(d, pod, "events-quitter", "exit 3");
  auto quit = recorder.await(quitter, v1::CONTAINER_STOPPED_EVENT);
  REQUIRE(quit.has_value());
  REQUIRE(status_of(*quit, quitter) != nullptr);
  CHECK(status_of(*quit, quitter)->state() == v1::CONTAINER_EXITED);
  CHECK(status_of(*quit, quitter)->exit_code() == 3);

  v1::RemoveContainerRequest rm;
  rm.set_container_id(id);
  v1::RemoveContainerResponse removed;
  grpc::Status s = d.runtime().RemoveContainer(context(60s).get(), rm, &removed);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  auto deleted = recorder.await(id, v1::CONTAINER_DELETED_EVENT);
  REQUIRE(deleted.has_value());
  CHECK(status_of(*deleted, id) == nullptr);
  CHECK(status_of(*deleted, quitter) != nullptr);

  REQUIRE(stop_pod(d, pod.id()).ok());
  auto sandbox_stopped = recorder.await(pod.id(), v1::CONTAINER_STOPPED_EVENT);
  REQUIRE(sandbox_stopped.has_value());
  CHECK(sandbox_stopped->pod_sandbox_status().state() == v1::SANDBOX_NOTREADY);
  const std::string pod_id = pod.id();
  REQUIRE(remove_pod(d, pod_id).ok());
  pod.forget();
  CHECK(recorder.await(pod_id, v1::CONTAINER_DELETED_EVENT).has_value());

  // Each object's events in lifecycle order, each once.
  std::map<std::string, std::vector<v1::ContainerEventType>> by_id;
  for (const auto& e : recorder.events()) by_id[e.container_id()].push_back(e.container_event_type());
  using T = std::vector<v1::ContainerEventType>;
  const T full{v1::CONTAINER_CREATED_EVENT, v1::CONTAINER_STARTED_EVENT, v1::CONTAINER_STOPPED_EVENT,
               v1::CONTAINER_DELETED_EVENT};
  CHECK(by_id[id] == full);
  CHECK(by_id[pod_id] == full);
  CHECK(by_id[quitter] == full);  // removed with its pod
}

TEST_CASE("GetContainerEvents: a stopping vpcrid ends the stream itself, and exits cleanly") {
  // kubelet's evented PLEG always holds a stream open; it must not hold up a restart until the
  // gRPC server's shutdown deadline cancels it ("Cancelling all calls").
  Daemon d;
  d.start();
  grpc::ClientContext ctx;
  auto reader = d.runtime().GetContainerEvents(&ctx, v1::GetEventsRequest());
  reader->WaitForInitialMetadata();
  int exit_code = -1;
  std::thread stopper([&] { exit_code = d.stop(SIGTERM); });
  v1::ContainerEventResponse e;
  while (reader->Read(&e)) {
  }
  grpc::Status s = reader->Finish();
  reader.reset();  // our last hold on the connection, which the stopping server waits to see closed
  stopper.join();
  CHECK(exit_code == 0);
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK_MESSAGE(s.error_message().find("vpcrid is stopping") != std::string::npos, s.error_message());
}

// Crash consistency: vpcrid SIGKILLed at every failpoint of the pod and container RPCs
// (VPCRI_FAILPOINT, common/failpoint.h), restarted, the work retried as kubelet does, then
// everything removed through the CRI: nothing may be left (mounts, cgroups, monitors, dirs).
// Also a short SIGKILL churn (bench/crash_churn.md describes the long mode).
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <shared_mutex>
#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/fs.h"
#include "tests/fixtures/registry_fixture.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Every failpoint, in the order a pod's life reaches them.
const std::vector<std::string> kFailpoints = {
    "run_pod.intent",         "run_pod.network",          "run_pod.namespaces",     "run_pod.shm",
    "run_pod.cgroup",         "run_pod.rootfs",           "run_pod.pause",          "run_pod.pid_ns",
    "run_pod.ready",          "create_container.intent",  "create_container.rootfs", "create_container.spec",
    "create_container.saved", "start_container.cgroup",   "start_container.launched", "start_container.saved",
    "stop_pod.begin",         "remove_container.torn_down", "remove_pod.torn_down",
};

std::vector<std::string> daemon_args() { return {"--network-provider", "none"}; }

void start_daemon(Daemon& d, const std::string& failpoint = "") {
  d.set_config(pods_config_yaml());
  if (failpoint.empty()) {
    ::unsetenv("VPCRI_FAILPOINT");
  } else {
    ::setenv("VPCRI_FAILPOINT", failpoint.c_str(), 1);
  }
  d.start();
  ::unsetenv("VPCRI_FAILPOINT");
}

v1::PodSandboxConfig pod_config(const std::string& name) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("crash");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}

v1::ContainerConfig container_config() {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name("app");
  c.mutable_image()->set_image(kTestImage);
  c.add_command("/bin/sleep");
  c.add_args("1000");
  return c;
}

// One kubelet sync of a pod, from whatever state the runtime holds: the pod READY with its
// container RUNNING, then (with `remove`) stopped and removed. Stops at the first failed RPC.
grpc::Status sync_pod(Daemon& d, const std::string& name, bool remove, std::set<std::string>* seen_ids) {
  const auto config = pod_config(name);
  v1::ListPodSandboxRequest list_req;
  (*list_req.mutable_filter()->mutable_label_selector()) = {};
  v1::ListPodSandboxResponse pods;
  grpc::Status s = d.runtime().ListPodSandbox(context().get(), list_req, &pods);
  if (!s.ok()) return s;
  std::string pod_id;
  for (const auto& p : pods.items()) {
    if (p.metadata().name() != name) continue;
    seen_ids->insert(p.id());
    if (p.state() == v1::SANDBOX_READY && pod_id.empty()) {
      pod_id = p.id();
      continue;
    }
    // As kubelet: a dead sandbox is stopped and removed, a new one made.
    if (!(s = stop_pod(d, p.id())).ok()) return s;
    if (!(s = remove_pod(d, p.id())).ok()) return s;
  }
  if (pod_id.empty()) {
    if (!(s = run_pod(d, config, &pod_id)).ok()) return s;
    seen_ids->insert(pod_id);
  }
  v1::ListContainersRequest creq;
  creq.mutable_filter()->set_pod_sandbox_id(pod_id);
  v1::ListContainersResponse containers;
  if (!(s = d.runtime().ListContainers(context().get(), creq, &containers)).ok()) return s;
  std::string ctr_id;
  v1::ContainerState ctr_state = v1::CONTAINER_UNKNOWN;
  for (const auto& c : containers.containers()) {
    seen_ids->insert(c.id());
    if (c.state() == v1::CONTAINER_EXITED) {
      v1::RemoveContainerRequest rreq;
      rreq.set_container_id(c.id());
      v1::RemoveContainerResponse rresp;
      if (!(s = d.runtime().RemoveContainer(context(60s).get(), rreq, &rresp)).ok()) return s;
      continue;
    }
    ctr_id = c.id();
    ctr_state = c.state();
  }
  if (ctr_id.empty()) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id);
    *req.mutable_config() = container_config();
    *req.mutable_sandbox_config() = config;
    v1::CreateContainerResponse resp;
    if (!(s = d.runtime().CreateContainer(context(60s).get(), req, &resp)).ok()) return s;
    ctr_id = resp.container_id();
    seen_ids->insert(ctr_id);
    ctr_state = v1::CONTAINER_CREATED;
  }
  if (ctr_state == v1::CONTAINER_CREATED) {
    v1::StartContainerRequest req;
    req.set_container_id(ctr_id);
    v1::StartContainerResponse resp;
    if (!(s = d.runtime().StartContainer(context(60s).get(), req, &resp)).ok()) return s;
  }
  v1::ContainerStatusRequest sreq;
  sreq.set_container_id(ctr_id);
  v1::ContainerStatusResponse sresp;
  if (!(s = d.runtime().ContainerStatus(context().get(), sreq, &sresp)).ok()) return s;
  if (sresp.status().state() != v1::CONTAINER_RUNNING) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "container " + ctr_id + " is " +
                                                        v1::ContainerState_Name(sresp.status().state()));
  }
  if (!remove) return s;
  if (!(s = stop_pod(d, pod_id)).ok()) return s;
  return remove_pod(d, pod_id);
}

// What a daemon left behind, by kind (all must be 0).
std::map<std::string, int> leftovers(Daemon& d, const std::set<std::string>& ids) {
  std::map<std::string, int> out{{"mounts", 0}, {"dirs", 0}, {"cgroups", 0}, {"monitors", 0}};
  std::istringstream mountinfo(vpcri::fs::read_file("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (mount_point.rfind(d.dir() + "/", 0) == 0) {
      MESSAGE("left mounted: " << mount_point);
      ++out["mounts"];
    }
  }
  for (const std::string& top : {d.root() + "/pods", d.root() + "/containers", d.state() + "/pods",
                                 d.state() + "/containers"}) {
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(top, ec)) {
      MESSAGE("left: " << e.path().string());
      ++out["dirs"];
    }
  }
  std::error_code ec;
  for (const auto& hierarchy : stdfs::directory_iterator("/sys/fs/cgroup", ec)) {
    for (const std::string& id : ids) {
      if (stdfs::exists(hierarchy.path() / "vpcri" / id)) {
        MESSAGE("left cgroup: " << (hierarchy.path() / "vpcri" / id).string());
        ++out["cgroups"];
      }
    }
  }
  // Monitors name their state dir (under the daemon's temp dir) on their command line.
  for (const auto& proc : stdfs::directory_iterator("/proc", ec)) {
    std::string cmdline;
    try {
      cmdline = vpcri::fs::read_file(proc.path().string() + "/cmdline");
    } catch (const std::exception&) {
      continue;
    }
    if (cmdline.find("vpcri-monitor") != std::string::npos && cmdline.find(d.dir() + "/") != std::string::npos) {
      MESSAGE("left running: pid " << proc.path().filename().string());
      ++out["monitors"];
    }
  }
  return out;
}

// Ids of what the daemon's directories hold now (to look for their cgroups later).
void collect_ids(Daemon& d, std::set<std::string>* ids) {
  for (const std::string& top : {d.root() + "/pods", d.root() + "/containers"}) {
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(top, ec)) ids->insert(e.path().filename().string());
  }
}

// The running vpcrid of `d` (its command line names the daemon's temp dir).
pid_t daemon_pid(Daemon& d) {
  std::error_code ec;
  for (const auto& proc : stdfs::directory_iterator("/proc", ec)) {
    std::string cmdline;
    try {
      cmdline = vpcri::fs::read_file(proc.path().string() + "/cmdline");
    } catch (const std::exception&) {
      continue;
    }
    if (cmdline.find("vpcrid") != std::string::npos && cmdline.find("vpcri-monitor") == std::string::npos &&
        cmdline.find(d.dir() + "/") != std::string::npos) {
      return static_cast<pid_t>(std::stoi(proc.path().filename().string()));
    }
  }
  FAIL("no vpcrid runs for " << d.dir());
  return -1;
}

std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : stdfs::directory_iterator(dir)) names.insert(e.path().filename());
  return names;
}

void check_clean(Daemon& d, const std::set<std::string>& ids) {
  for (const auto& [kind, count] : leftovers(d, ids)) CHECK_MESSAGE(count == 0, kind << ": " << count);
}

}  // namespace

TEST_CASE("vpcrid SIGKILLed at every failpoint: the retried work succeeds and nothing is left") {
  // One node's state through every crash in turn, as on a real node: each restart also finds
  // whatever the earlier crashes and their cleanups left in its directories.
  Daemon d(daemon_args());
  for (const std::string& failpoint : kFailpoints) {
    CAPTURE(failpoint);
    start_daemon(d, failpoint);
    std::set<std::string> ids;
    grpc::Status s = sync_pod(d, "fp", true, &ids);
    // The failpoint fired: the daemon is gone and said where.
    CHECK_FALSE(s.ok());
    CHECK(d.log().find("failpoint " + failpoint + " reached") != std::string::npos);
    d.stop(SIGKILL);
    collect_ids(d, &ids);
    start_daemon(d);
    // Retried as kubelet does: the pod and its container come up, then go through the CRI.
    s = sync_pod(d, "fp", false, &ids);
    CHECK_MESSAGE(s.ok(), s.error_message());
    collect_ids(d, &ids);
    s = sync_pod(d, "fp", true, &ids);
    CHECK_MESSAGE(s.ok(), s.error_message());
    // Nothing may remain (the restart removed what the crash left, the CRI the rest).
    v1::ListPodSandboxResponse pods;
    REQUIRE(d.runtime().ListPodSandbox(context().get(), {}, &pods).ok());
    CHECK(pods.items_size() == 0);
    d.stop(SIGTERM);
    check_clean(d, ids);
  }
}

TEST_CASE("leftovers no record explains are swept at start; what is not vpcri's stays") {
  Daemon d(daemon_args());
  start_daemon(d);
  d.stop(SIGKILL);
  const std::string pod = std::string(64, 'a'), ctr = std::string(64, 'b');
  const std::string shm = d.state() + "/pods/" + pod + "/shm";
  const std::string rootfs = d.state() + "/containers/" + ctr + "/rootfs";
  const std::string outside = d.dir() + "/outside";
  for (const auto& dir : {shm, rootfs, outside, d.root() + "/pods/" + pod + "/overlay/upper"}) vpcri::fs::mkdir_p(dir);
  REQUIRE(::mount("tmpfs", shm.c_str(), "tmpfs", 0, "size=64k") == 0);
  REQUIRE(::mount("tmpfs", rootfs.c_str(), "tmpfs", 0, "size=64k") == 0);
  REQUIRE(::mount("tmpfs", outside.c_str(), "tmpfs", 0, "size=64k") == 0);
  // Outside vpcri's pods/containers dirs: never touched.
  vpcri::fs::write_file_atomic(outside + "/keep", "x");
  start_daemon(d);
  CHECK_FALSE(stdfs::exists(d.state() + "/pods/" + pod));
  CHECK_FALSE(stdfs::exists(d.root() + "/pods/" + pod));
  CHECK_FALSE(stdfs::exists(d.state() + "/containers/" + ctr));
  CHECK(d.log().find("removed a leftover no record explains") != std::string::npos);
  CHECK(d.log().find(shm) != std::string::npos);
  CHECK(stdfs::exists(outside + "/keep"));  // still mounted, untouched
  d.stop(SIGTERM);
  CHECK(::umount2(outside.c_str(), MNT_DETACH) == 0);
  check_clean(d, {pod, ctr});
}

TEST_CASE("SIGKILL churn: pods created and removed by 2 workers while vpcrid is killed; nothing leaks") {
  const char* cycles_env = std::getenv("VPCRI_CHURN_CYCLES");
  const char* kills_env = std::getenv("VPCRI_CHURN_KILLS");
  const int cycles = cycles_env ? std::atoi(cycles_env) : 40;
  const int kills = kills_env ? std::atoi(kills_env) : 6;
  const int workers = 2;
  Daemon d(daemon_args());
  start_daemon(d);
  std::set<std::string> ids;
  std::mutex ids_mu;
  std::atomic<int> done{0}, failed_requests{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  // Held shared by each sync, exclusively while the killed daemon is restarted (the fixture's
  // stub is replaced then). The SIGKILL itself lands at any moment, mid-request.
  std::shared_mutex daemon_mu;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      std::set<std::string> mine;
      int cycle = 0;
      while (cycle < cycles / workers && !stop) {
        grpc::Status s;
        {
          std::shared_lock lock(daemon_mu);
          s = sync_pod(d, "churn-" + std::to_string(w) + "-" + std::to_string(cycle), true, &mine);
        }
        if (s.ok()) {
          ++cycle;
          ++done;
        } else {
          ++failed_requests;
          std::this_thread::sleep_for(50ms);  // kubelet's retry after a failed sync
        }
      }
      std::lock_guard lock(ids_mu);
      ids.insert(mine.begin(), mine.end());
    });
  }
  std::mt19937 rng(42);
  for (int k = 0; k < kills && done < cycles; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 800));
    REQUIRE(::kill(daemon_pid(d), SIGKILL) == 0);
    std::unique_lock lock(daemon_mu);
    d.stop(SIGKILL);
    {
      std::lock_guard ids_lock(ids_mu);
      collect_ids(d, &ids);
    }
    start_daemon(d);
  }
  for (auto& t : threads) t.join();
  collect_ids(d, &ids);
  d.stop(SIGTERM);
  const auto left = leftovers(d, ids);
  std::string summary;
  for (const auto& [kind, count] : left) summary += " " + kind + "=" + std::to_string(count);
  MESSAGE("churn: cycles=" << done.load() << " kills=" << kills << " failed_requests=" << failed_requests.load()
                           << " leaks:" << summary);
  CHECK(done.load() == cycles);
  for (const auto& [kind, count] : left) CHECK_MESSAGE(count == 0, kind << ": " << count);
}

TEST_CASE("vpcrid SIGKILLed inside a pull: a restart keeps no half-unpacked layer or image and the retried pull succeeds") {
  RegistryFixture reg("/usr/bin/python3",
                      (stdfs::path(__FILE__).parent_path().parent_path() / "fixtures" / "registry.py").string(),
                      {"--push-images"});
  const std::string ref = reg.registry_host() + "/library/busybox:latest";
  for (const std::string failpoint : {"image.unpacking", "image.unpacked"}) {
    CAPTURE(failpoint);
    Daemon d(daemon_args());
    d.set_config("registries:\n  " + reg.registry_host() + ":\n    insecure_http: true\n");
    // A first start imports the sandbox image (an unpack too) before the failpoint is armed.
    d.start();
    d.stop(SIGTERM);
    ::setenv("VPCRI_FAILPOINT", failpoint.c_str(), 1);
    d.start();
    ::unsetenv("VPCRI_FAILPOINT");
    const std::string snapshots = d.root() + "/images/snapshots";
    const std::set<std::string> snapshots_before = names_in(snapshots);
    v1::PullImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::PullImageResponse resp;
    CHECK_FALSE(d.images().PullImage(context(120s).get(), req, &resp).ok());
    CHECK(d.log().find("failpoint " + failpoint + " reached") != std::string::npos);
    d.stop(SIGKILL);
    // The crash left what the restart must not trust: an unfinished unpack, or complete
    // snapshots of an image that has no record.
    const std::set<std::string> snapshots_left = names_in(snapshots);
    CHECK(snapshots_left.size() > snapshots_before.size());
    if (failpoint == "image.unpacking")
      CHECK(std::any_of(snapshots_left.begin(), snapshots_left.end(), [](const std::string& n) { return n.starts_with("tmp-"); }));
    d.start();
    // Nothing of the cut pull is trusted or kept: no image, no new snapshot, no unfinished unpack.
    v1::ImageStatusRequest sreq;
    sreq.mutable_image()->set_image(ref);
    v1::ImageStatusResponse sresp;
    REQUIRE(d.images().ImageStatus(context().get(), sreq, &sresp).ok());
    CHECK_FALSE(sresp.has_image());
    CHECK(names_in(snapshots) == snapshots_before);
    // Retried, the pull succeeds and its image has every layer.
    grpc::Status s = d.images().PullImage(context(120s).get(), req, &resp);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    REQUIRE(d.images().ImageStatus(context().get(), sreq, &sresp).ok());
    CHECK(sresp.has_image());
    if (failpoint == "image.unpacking") CHECK(d.log().find("removing an unfinished layer unpack") != std::string::npos);
    d.stop(SIGTERM);
  }
}

// Crash consistency: vpcrid SIGKILLed at every failpoint of the pod and container RPCs
// (VPCRI_FAILPOINT, common/failpoint.h), restarted, the work retried as kubelet does, then
// everything removed through the CRI: nothing may be left (mounts, cgroups, monitors, dirs).
// Also a short SIGKILL churn (bench/crash_churn.md describes the long mode); crash_network_test.cc
// does both with pod networking.
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "common/fs.h"
#include "tests/fixtures/registry_fixture.h"
#include "tests/integration/crash_support.h"
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
    "run_pod.cgroup",         "run_pod.pause",            "run_pod.pid_ns",
    "run_pod.ready",          "create_container.intent",  "create_container.rootfs", "create_container.spec",
    "create_container.saved", "start_container.cgroup",   "start_container.launched", "start_container.saved",
    "stop_pod.begin",         "remove_container.torn_down", "remove_pod.torn_down",
};

std::vector<std::string> daemon_args() { return {"--network-provider", "none"}; }

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

TEST_CASE("a pod record torn by a power loss: its pod and container are swept and logged at start, others untouched") {
  // Records are replaced atomically but not fsynced (cri/server/store.h): after a power loss a
  // record may hold only its first bytes. Planted here with the pod still running, so the sweep
  // has monitors, mounts and cgroups to remove, not only the files a reboot leaves.
  Daemon d(daemon_args());
  start_daemon(d);
  std::set<std::string> torn_ids, kept_ids;
  grpc::Status s = sync_pod(d, "torn", false, &torn_ids);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  s = sync_pod(d, "kept", false, &kept_ids);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  std::string torn_pod;
  for (const auto& id : torn_ids) {
    if (stdfs::exists(d.root() + "/pods/" + id)) torn_pod = id;
  }
  REQUIRE(torn_ids.size() == 2);  // the pod and its container
  REQUIRE_FALSE(torn_pod.empty());
  d.stop(SIGKILL);
  const std::string record = d.root() + "/pods/" + torn_pod + "/pod.json";
  const std::string text = vpcri::fs::read_file(record);
  vpcri::fs::write_file_atomic(record, text.substr(0, text.size() / 2), 0600);

  start_daemon(d);
  CHECK(d.log().find("damaged record: its object is swept") != std::string::npos);
  CHECK(d.log().find(record) != std::string::npos);
  CHECK(d.log().find("removed a container whose pod sandbox has no record") != std::string::npos);
  for (const auto& id : torn_ids) {
    CAPTURE(id);
    for (const auto& [kind, count] : leftovers(d, {id}, id)) CHECK_MESSAGE(count == 0, kind << ": " << count);
  }
  // The other pod runs on: READY, its container RUNNING, and the CRI removes it as usual.
  v1::ListPodSandboxResponse pods;
  REQUIRE(d.runtime().ListPodSandbox(context().get(), {}, &pods).ok());
  REQUIRE(pods.items_size() == 1);
  CHECK(pods.items(0).metadata().name() == "kept");
  CHECK(pods.items(0).state() == v1::SANDBOX_READY);
  v1::ListContainersResponse containers;
  REQUIRE(d.runtime().ListContainers(context().get(), {}, &containers).ok());
  REQUIRE(containers.containers_size() == 1);
  CHECK(containers.containers(0).state() == v1::CONTAINER_RUNNING);
  CHECK(kept_ids.count(containers.containers(0).id()) == 1);
  s = sync_pod(d, "kept", true, &kept_ids);
  CHECK_MESSAGE(s.ok(), s.error_message());
  CHECK(kept_ids.size() == 2);  // the same pod and container, not new ones
  d.stop(SIGTERM);
  kept_ids.insert(torn_ids.begin(), torn_ids.end());
  check_clean(d, kept_ids);
}

TEST_CASE("SIGKILL churn: pods created and removed by 2 workers while vpcrid is killed; nothing leaks") {
  const int cycles = env_int("VPCRI_CHURN_CYCLES", 40);
  const int kills = env_int("VPCRI_CHURN_KILLS", 6);
  Daemon d(daemon_args());
  start_daemon(d);
  const ChurnResult churn = run_churn(
      d, 2, cycles, kills,
      [&](int worker, int cycle, std::set<std::string>* ids) {
        return sync_pod(d, "churn-" + std::to_string(worker) + "-" + std::to_string(cycle), true, ids);
      },
      [&] { start_daemon(d); });
  d.stop(SIGTERM);
  const auto left = leftovers(d, churn.ids);
  std::string summary;
  for (const auto& [kind, count] : left) summary += " " + kind + "=" + std::to_string(count);
  MESSAGE("churn: cycles=" << churn.cycles << " kills=" << churn.kills << " failed_requests=" << churn.failed_requests
                           << " leaks:" << summary);
  CHECK(churn.cycles >= cycles);
  CHECK(churn.kills == kills);
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

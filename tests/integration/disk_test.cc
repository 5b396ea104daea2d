// A full <root> and a read-only <state>, on a small tmpfs the test mounts over the daemon's
// directory: the operations that write fail with a clear CRI error (RESOURCE_EXHAUSTED for a
// full disk), keep nothing half-written that a later request or restart would trust, and vpcrid
// keeps serving; once there is room again the same requests succeed.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/fs.h"
#include "tests/fixtures/registry_fixture.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A tmpfs mounted at `dir` for the test's lifetime. Its destructor first stops the daemon
// (which may hold files and mounts on it) and then unmounts, whatever the test's outcome.
class TmpfsMount {
 public:
  TmpfsMount(Daemon& d, std::string dir, const std::string& size) : d_(d), dir_(std::move(dir)) {
    vpcri::fs::mkdir_p(dir_);
    REQUIRE_MESSAGE(::mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0755").c_str()) == 0,
                    std::strerror(errno));
  }
  ~TmpfsMount() {
    if (d_.running()) d_.stop(SIGTERM);
    if (::umount2(dir_.c_str(), MNT_DETACH) != 0) FAIL_CHECK("umount " << dir_ << ": " << std::strerror(errno));
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  void set_read_only(bool read_only) {
    unsigned long flags = MS_REMOUNT | (read_only ? MS_RDONLY : 0);
    REQUIRE_MESSAGE(::mount(nullptr, dir_.c_str(), nullptr, flags, nullptr) == 0, std::strerror(errno));
  }

 private:
  Daemon& d_;
  std::string dir_;
};

// Takes all but `leave` bytes of the filesystem at `dir` with one preallocated file, until the
// object goes away (or release()).
class Filler {
 public:
  Filler(const std::string& dir, uint64_t leave) : path_(dir + "/filler") {
    struct statvfs vfs {};
    REQUIRE(::statvfs(dir.c_str(), &vfs) == 0);
    uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    REQUIRE(free_bytes > leave);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(free_bytes - leave));
    ::close(fd);
    REQUIRE_MESSAGE(rc == 0, std::strerror(rc));
  }
  ~Filler() { release(); }
  Filler(const Filler&) = delete;
  Filler& operator=(const Filler&) = delete;
  void release() { ::unlink(path_.c_str()); }

 private:
  std::string path_;
};

std::string fixtures_dir() { return (stdfs::path(__FILE__).parent_path().parent_path() / "fixtures").string(); }

grpc::Status pull(Daemon& d, const std::string& ref) {
  v1::PullImageRequest req;
  req.mutable_image()->set_image(ref);
  v1::PullImageResponse resp;
  return d.images().PullImage(context(120s).get(), req, &resp);
}

bool has_image(Daemon& d, const std::string& ref) {
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(ref);
  v1::ImageStatusResponse resp;
  grpc::Status s = d.images().ImageStatus(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp.has_image();
}

// vpcrid answers: a cheap RPC that reads nothing from disk.
void check_serving(Daemon& d) {
  v1::VersionRequest req;
  v1::VersionResponse resp;
  grpc::Status s = d.runtime().Version(context().get(), req, &resp);
  CHECK_MESSAGE(s.ok(), s.error_message());
}

// Files under the image store that a finished operation never leaves: temp files of atomic
// writes, unfinished unpacks, snapshots without their tree.
std::vector<std::string> half_written_image_files(Daemon& d) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(d.root() + "/images", ec);
       it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->path().parent_path().filename() == "snapshots") {
      it.disable_recursion_pending();  // a layer's own files are what the image holds
      if (name.starts_with("tmp-") || !stdfs::is_directory(it->path() / "fs")) out.push_back(it->path().string());
    } else if (vpcri::fs::is_temp_file_name(name) || name.find(".tmp") != std::string::npos ||
               name.starts_with("tmp-") || name.starts_with("ingest-")) {
      out.push_back(it->path().string());
    }
  }
  return out;
}

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(dir, ec)) out.insert(e.path().filename().string());
  return out;
}

v1::PodSandboxConfig pod_config(const std::string& name) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("disk");
  c.mutable_metadata()->set_uid("uid-" + name);
  return c;
}

grpc::Status create_sleeper(Daemon& d, const Pod& pod, std::string* id) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name("sleeper");
  c.mutable_image()->set_image(kTestImage);
  c.add_command("/bin/sleep");
  c.add_args("1000");
  return create_container(d, pod, c, id);
}

}  // namespace

TEST_CASE("a pull that fills <root> fails RESOURCE_EXHAUSTED, keeps nothing half-written, and vpcrid serves on") {
  RegistryFixture reg("/usr/bin/python3", fixtures_dir() + "/registry.py", {"--push-images"});
  const std::string ref = reg.registry_host() + "/library/busybox:latest";
  Daemon d;
  TmpfsMount root(d, d.root(), "48m");
  d.set_config("registries:\n  " + reg.registry_host() + ":\n    insecure_http: true\n");
  d.start();

  // Little room: the blobs do not fit. More: the blobs fit, their unpacked layers do not.
  int exhausted = 0;
  for (uint64_t leave : {uint64_t{64} << 10, uint64_t{1536} << 10}) {
    CAPTURE(leave);
    Filler filler(d.root(), leave);
    grpc::Status s = pull(d, ref);
    MESSAGE("pull with " << leave << " bytes free: " << (s.ok() ? "ok" : s.error_message()));
    if (!s.ok()) {
      ++exhausted;
      CHECK_MESSAGE(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED, s.error_message());
      CHECK_MESSAGE(s.error_message().find("No space left on device") != std::string::npos, s.error_message());
      CHECK_FALSE(has_image(d, ref));
      CHECK(half_written_image_files(d).empty());
    }
    check_serving(d);
    if (s.ok()) {
      // It fitted: start over without it for the next size.
      v1::RemoveImageRequest rm;
      rm.mutable_image()->set_image(ref);
      v1::RemoveImageResponse rm_resp;
      REQUIRE(d.images().RemoveImage(context().get(), rm, &rm_resp).ok());
    }
  }
  CHECK(exhausted > 0);  // the smallest room cannot hold the image

  // A restart trusts nothing the failed pulls left.
  d.stop(SIGKILL);
  d.start();
  CHECK_FALSE(has_image(d, ref));
  CHECK(half_written_image_files(d).empty());

  // With room again, the same pull succeeds and the image survives a restart.
  grpc::Status s = pull(d, ref);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  d.stop(SIGKILL);
  d.start();
  CHECK(has_image(d, ref));
  CHECK(half_written_image_files(d).empty());
}

TEST_CASE("RunPodSandbox and CreateContainer on a full <root> fail RESOURCE_EXHAUSTED and leave nothing") {
  Daemon d;
  TmpfsMount root(d, d.root(), "48m");
  d.set_config(pods_config_yaml());
  d.start();
  Pod pod(d, pod_config("full"));
  {
    Filler filler(d.root(), 0);
    std::string id;
    grpc::Status s = run_pod(d, pod_config("no-room"), &id);
    CHECK_MESSAGE(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED, s.error_message());
    s = create_sleeper(d, pod, &id);
    CHECK_MESSAGE(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED, s.error_message());
    check_serving(d);
    // Only the pod that exists has directories; the failed requests left none.
    CHECK(entries(d.root() + "/pods") == std::set<std::string>{pod.id()});
    CHECK(entries(d.state() + "/pods") == std::set<std::string>{pod.id()});
    CHECK(entries(d.root() + "/containers").empty());
    CHECK(entries(d.state() + "/containers").empty());
  }
  // A restart finds nothing to roll back or sweep, and with room the same requests succeed.
  d.stop(SIGKILL);
  d.start();
  CHECK(d.log().find("removed a leftover") == std::string::npos);
  std::string ctr;
  grpc::Status s = create_sleeper(d, pod, &ctr);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  s = start_container(d, ctr);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  CHECK(container_status(d, ctr).state() == v1::CONTAINER_RUNNING);
  Pod second(d, pod_config("room-again"));
  CHECK_FALSE(second.id().empty());
}

TEST_CASE("a read-only <state> fails the requests that write there with a clear error; vpcrid serves on") {
  Daemon d;
  TmpfsMount state(d, d.state(), "64m");
  d.set_config(pods_config_yaml());
  d.start();
  state.set_read_only(true);
  std::string id;
  grpc::Status s = run_pod(d, pod_config("read-only"), &id);
  CHECK_MESSAGE(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION, s.error_message());
  CHECK_MESSAGE(s.error_message().find("Read-only file system") != std::string::npos, s.error_message());
  check_serving(d);
  v1::ListPodSandboxResponse pods;
  REQUIRE(d.runtime().ListPodSandbox(context().get(), {}, &pods).ok());
  CHECK(pods.items_size() == 0);
  CHECK(entries(d.root() + "/pods").empty());
  // Writable again: the same pod runs, and so does a container in it.
  state.set_read_only(false);
  Pod pod(d, pod_config("read-only"));
  std::string ctr = run_shell_container(d, pod, "app", "sleep 1000");
  CHECK(container_status(d, ctr).state() == v1::CONTAINER_RUNNING);
}

// ImageService through the CRI socket, against a real docker-registry holding images built from
// busybox by tests/fixtures/images.py; and image archives through vpcrictl.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "tests/fixtures/registry_fixture.h"
#include "tests/integration/daemon_fixture.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;

namespace {

std::string fixtures_dir() { return (stdfs::path(__FILE__).parent_path().parent_path() / "fixtures").string(); }

RegistryFixture start_registry(std::vector<std::string> args = {}) {
  args.push_back("--push-images");
  return RegistryFixture("/usr/bin/python3", fixtures_dir() + "/registry.py", args);
}

// docker.io is served by the test registry, as a node behind a mirror would see it.
std::string mirror_config(const RegistryFixture& reg, const std::string& url_key = "registry_url") {
  return "registries:\n"
         "  docker.io:\n"
         "    mirrors: [\"" + reg.str(url_key.c_str()) + "\"]\n"
         "    skip_host: true\n"
         "  " + reg.registry_host() + ":\n"
         "    insecure_http: true\n"
         "  " + reg.proxy_host() + ":\n"
         "    insecure_http: true\n";
}

grpc::Status pull(Daemon& d, const std::string& ref, std::string* image_ref = nullptr, const std::string& user = "",
                  const std::string& password = "") {
  v1::PullImageRequest req;
  req.mutable_image()->set_image(ref);
  req.mutable_auth()->set_username(user);
  req.mutable_auth()->set_password(password);
  v1::PullImageResponse resp;
  grpc::Status s = d.images().PullImage(context(std::chrono::seconds(120)).get(), req, &resp);
  if (image_ref) *image_ref = resp.image_ref();
  return s;
}

v1::ImageStatusResponse image_status(Daemon& d, const std::string& ref, bool verbose = false) {
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(ref);
  req.set_verbose(verbose);
  v1::ImageStatusResponse resp;
  grpc::Status s = d.images().ImageStatus(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp;
}

std::vector<v1::Image> list_images(Daemon& d, const std::string& filter = "") {
  v1::ListImagesRequest req;
  if (!filter.empty()) req.mutable_filter()->mutable_image()->set_image(filter);
  v1::ListImagesResponse resp;
  grpc::Status s = d.images().ListImages(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return {resp.images().begin(), resp.images().end()};
}

grpc::Status remove_image(Daemon& d, const std::string& ref) {
  v1::RemoveImageRequest req;
  req.mutable_image()->set_image(ref);
  v1::RemoveImageResponse resp;
  return d.images().RemoveImage(context().get(), req, &resp);
}

uint64_t image_fs_used(Daemon& d) {
  v1::ImageFsInfoRequest req;
  v1::ImageFsInfoResponse resp;
  REQUIRE(d.images().ImageFsInfo(context().get(), req, &resp).ok());
  REQUIRE(resp.image_filesystems_size() == 1);
  return resp.image_filesystems(0).used_bytes().value();
}

bool has_tag(const std::vector<v1::Image>& images, const std::string& tag) {
  for (const auto& image : images) {
    for (const auto& t : image.repo_tags()) {
      if (t == tag) return true;
    }
  }
  return false;
}

// Files under the image store that a failed pull must not leave behind.
size_t stray_files(const std::string& images_root) {
  size_t n = 0;
  for (const char* dir : {"/ingest", "/snapshots"}) {
    std::error_code ec;
    for (auto it = stdfs::recursive_directory_iterator(images_root + dir, ec); !ec && it != stdfs::end(it); ++it) {
      if (it->path().filename().string().rfind("tmp", 0) == 0 || std::string(dir) == "/ingest") ++n;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("the sandbox image is there at start, pinned, and cannot be removed") {
  Daemon d;
  d.start();
  auto images = list_images(d);
  REQUIRE(images.size() == 1);
  CHECK(images[0].repo_tags(0) == "localhost/vpcri/pause:0.1.0");
  CHECK(images[0].pinned());
  grpc::Status s = remove_image(d, "localhost/vpcri/pause:0.1.0");
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(list_images(d).size() == 1);
}

TEST_CASE("pull through a mirror, status, list, remove") {
  RegistryFixture reg = start_registry();
  Daemon d;
  d.set_config(mirror_config(reg));
  d.start();
  uint64_t used_before = image_fs_used(d);

  std::string image_ref;
  grpc::Status s = pull(d, "busybox", &image_ref);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  CHECK(image_ref.rfind("sha256:", 0) == 0);
  // The OCI index resolves to the linux/amd64 config.
  CHECK(image_ref == reg.info()["images"]["configs"]["oci-amd64"]["digest"].get<std::string>());

  auto status = image_status(d, "docker.io/library/busybox:latest", true);
  REQUIRE(status.has_image());
  CHECK(status.image().id() == image_ref);
  CHECK(status.image().repo_tags(0) == "docker.io/library/busybox:latest");
  REQUIRE(status.image().repo_digests_size() >= 1);
  CHECK(status.image().repo_digests(0).rfind("docker.io/library/busybox@sha256:", 0) == 0);
  CHECK(status.image().size() > 0);
  CHECK_FALSE(status.image().pinned());
  // Resolvable by every name kubelet may use.
  CHECK(image_status(d, "busybox").image().id() == image_ref);
  CHECK(image_status(d, image_ref).image().id() == image_ref);
  CHECK(image_status(d, status.image().repo_digests(0)).image().id() == image_ref);

  // Verbose info carries the config and the unpacked layers, lowest first.
  auto info = nlohmann::json::parse(status.info().at("info"));
  CHECK(info["imageSpec"]["architecture"] == "amd64");
  auto layers = info["layers"].get<std::vector<std::string>>();
  REQUIRE(layers.size() >= 2);
  CHECK(stdfs::exists(layers[0] + "/bin/busybox"));
  struct stat st {};
  // The upper layer's whiteout became an overlay whiteout (a 0:0 character device).
  REQUIRE(::lstat((layers[1] + "/etc/removed-by-upper").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == 0);

  CHECK(has_tag(list_images(d), "docker.io/library/busybox:latest"));
  CHECK(list_images(d, "busybox").size() == 1);
  CHECK(image_fs_used(d) > used_before);

  // Absent images are an empty status, not an error.
  CHECK_FALSE(image_status(d, "docker.io/library/nothing:here").has_image());
  CHECK(list_images(d, "nothing:here").empty());

  // Removal takes every name; a second removal is fine.
  REQUIRE(remove_image(d, "busybox").ok());
  CHECK_FALSE(image_status(d, image_ref).has_image());
  CHECK_FALSE(has_tag(list_images(d), "docker.io/library/busybox:latest"));
  CHECK(remove_image(d, "busybox").ok());
  CHECK(remove_image(d, image_ref).ok());
  CHECK(image_fs_used(d) < used_before + 4096 * 16);
}

TEST_CASE("pulled images survive a daemon restart") {
  RegistryFixture reg = start_registry();
  Daemon d;
  d.set_config(mirror_config(reg));
  d.start();
  std::string image_ref;
  REQUIRE(pull(d, reg.registry_host() + "/library/busybox:docker-list", &image_ref).ok());
  // A Docker manifest list resolves to its amd64 entry too.
  CHECK(image_ref == reg.info()["images"]["configs"]["docker-amd64"]["digest"].get<std::string>());
  CHECK(d.stop(SIGKILL) == -SIGKILL);
  d.start();
  CHECK(image_status(d, reg.registry_host() + "/library/busybox:docker-list").image().id() == image_ref);
}

TEST_CASE("bad pulls fail clearly and store nothing") {
  RegistryFixture reg = start_registry();
  Daemon d;
  d.set_config(mirror_config(reg));
  d.start();
  const std::string images_root = d.root() + "/images";

  SUBCASE("unknown image") {
    grpc::Status s = pull(d, reg.registry_host() + "/library/nope:latest");
    CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
    CHECK(s.error_message().find("nope") != std::string::npos);
  }
  SUBCASE("registry down") {
    grpc::Status s = pull(d, "127.0.0.1:1/library/busybox:latest");
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(s.error_message().find("127.0.0.1:1") != std::string::npos);
  }
  SUBCASE("a blob whose content does not match its digest") {
    reg.add_faults({"kind=corrupt-body,path=/blobs/"});
    grpc::Status s = pull(d, reg.proxy_host() + "/library/busybox:amd64");
    CHECK_FALSE(s.ok());
    CHECK(s.error_message().find("sha256") != std::string::npos);
  }
  SUBCASE("invalid reference") {
    grpc::Status s = pull(d, "library/UPPER:tag");  // repositories are lowercase
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
  CHECK(list_images(d).size() == 1);  // only the sandbox image
  CHECK(stray_files(images_root) == 0);
}

TEST_CASE("basic auth: credentials from PullImageRequest.auth") {
  RegistryFixture reg = start_registry({"--auth", "basic"});
  Daemon d;
  d.set_config(mirror_config(reg));
  d.start();
  const std::string ref = reg.registry_host() + "/library/busybox:amd64";
  grpc::Status s = pull(d, ref);
  CHECK_FALSE(s.ok());
  CHECK(s.error_message().find("auth") != std::string::npos);
  s = pull(d, ref, nullptr, reg.str("user"), "wrong-password");
  CHECK_FALSE(s.ok());
  s = pull(d, ref, nullptr, reg.str("user"), reg.str("password"));
  CHECK_MESSAGE(s.ok(), s.error_message());
  CHECK(image_status(d, ref).has_image());
}

TEST_CASE("vpcrictl: image import of OCI and docker-save tars, images, inspecti, rmi, pull") {
  TempDir out;
  RunResult built = run({"/usr/bin/python3", fixtures_dir() + "/images.py", "build", "--out", out.path(), "--name",
                         "docker.io/vpcri/imported:v1"},
                        std::chrono::seconds(120));
  REQUIRE_MESSAGE(built.exit_code == 0, built.err);
  auto summary = nlohmann::json::parse(built.out);
  RegistryFixture reg = start_registry();
  Daemon d;
  d.set_config(mirror_config(reg));
  d.start();
  const std::string ctl = binary("VPCRICTL");
  const std::string ep = "unix://" + d.socket();

  std::string oci_tar, docker_tar;
  for (const auto& entry : stdfs::directory_iterator(out.path())) {
    std::string name = entry.path().filename().string();
    if (name.find("docker") != std::string::npos && entry.path().extension() == ".tar") docker_tar = entry.path();
    if (name.find("oci") != std::string::npos && entry.path().extension() == ".tar") oci_tar = entry.path();
  }
  REQUIRE_FALSE(oci_tar.empty());
  REQUIRE_FALSE(docker_tar.empty());

  RunResult r = run({ctl, "-r", ep, "image", "import", oci_tar});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("docker.io/vpcri/imported:v1") != std::string::npos);
  r = run({ctl, "-r", ep, "images"});
  CHECK(r.out.find("docker.io/vpcri/imported") != std::string::npos);
  CHECK(r.out.find("v1") != std::string::npos);
  REQUIRE(run({ctl, "-r", ep, "rmi", "docker.io/vpcri/imported:v1"}).exit_code == 0);
  CHECK_FALSE(image_status(d, "docker.io/vpcri/imported:v1").has_image());

  r = run({ctl, "-r", ep, "image", "import", docker_tar});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  auto status = image_status(d, "docker.io/vpcri/imported:v1", true);
  REQUIRE(status.has_image());
  auto layers = nlohmann::json::parse(status.info().at("info"))["layers"].get<std::vector<std::string>>();
  REQUIRE_FALSE(layers.empty());
  CHECK(stdfs::exists(layers[0] + "/bin/busybox"));

  r = run({ctl, "-r", ep, "image", "import", out.path() + "/does-not-exist.tar"});
  CHECK(r.exit_code != 0);
  vpcri::fs::write_file_atomic(out.path() + "/broken.tar", "this is not a tar archive");
  r = run({ctl, "-r", ep, "image", "import", out.path() + "/broken.tar"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("broken.tar") != std::string::npos);

  r = run({ctl, "-r", ep, "pull", "busybox:amd64"}, std::chrono::seconds(120));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("Image is up to date for sha256:") != std::string::npos);
  r = run({ctl, "-r", ep, "inspecti", "busybox:amd64"});
  CHECK(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["status"]["repoTags"][0] == "docker.io/library/busybox:amd64");
  r = run({ctl, "-r", ep, "-o", "json", "images"});
  CHECK(nlohmann::json::parse(r.out)["images"].size() == 3);
  r = run({ctl, "-r", ep, "inspecti", "nothing:here"});
  CHECK(r.exit_code == 1);
}

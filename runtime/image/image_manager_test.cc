// ImageManager against the real pieces: archives and a registry from tests/fixtures, the real
// unpacker, the real registry client (over loopback only).
#include "runtime/image/image_manager.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/error.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_test_config.h"  // generated: VPCRI_TEST_PYTHON, VPCRI_TEST_FIXTURES_DIR
#include "runtime/image/test_archive.h"
#include "runtime/image/test_util.h"
#include "tests/fixtures/registry_fixture.h"

using namespace vpcri::runtime::image;
using nlohmann::json;
using testing::make_tar;
using testing::names_in;
using testing::TarEntry;
using testing::TempDir;
using vpcri::Errc;
using vpcri::Error;

namespace {

const std::string kImportedName = "docker.io/vpcri/imported:latest";

// tests/fixtures/images.py build: OCI and docker-save tars of the busybox test image, built once.
struct FixtureImages {
  TempDir dir;
  json summary;
  FixtureImages() {
    std::string cmd = std::string(VPCRI_TEST_PYTHON) + " " + VPCRI_TEST_FIXTURES_DIR + "/images.py build --out " +
                      dir.path + "/out --name " + kImportedName;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) throw std::runtime_error("cannot run " + cmd);
    std::string out;
    char buf[4096];
    size_t n = 0;
    while ((n = ::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (::pclose(p) != 0) throw std::runtime_error(cmd + " failed: " + out);
    summary = json::parse(out);
  }
  std::string tar(const char* key) const { return summary.at(key).get<std::string>(); }
  std::string config(const char* key) const { return summary.at("configs").at(key).at("digest").get<std::string>(); }
  std::string manifest(const char* key) const {
    return summary.at("manifests").at(key).at("digest").get<std::string>();
  }
  std::vector<json> layers(bool gzip_only) const {
    std::vector<json> out;
    for (const auto& l : summary.at("layers"))
      if (!gzip_only || l.at("media_type").get<std::string>().ends_with("+gzip")) out.push_back(l);
    return out;
  }
};

const FixtureImages& fixture_images() {
  static FixtureImages images;
  return images;
}

ManagerConfig config_for(const std::string& root) {
  ManagerConfig c;
  c.root = root;
  c.registry.max_attempts = 2;
  c.registry.initial_backoff = std::chrono::milliseconds(10);
  return c;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Nothing but what the listed images need: no temp files, no stray blobs or snapshots.
void check_store_holds_exactly(const std::string& root, size_t blobs, size_t snapshots, size_t records) {
  CHECK(names_in(root + "/ingest").empty());
  CHECK(names_in(root + "/blobs/sha256").size() == blobs);
  CHECK(names_in(root + "/snapshots").size() == snapshots);
  CHECK(names_in(root + "/images").size() == records);
}

Errc error_code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    MESSAGE("error: " << std::string(e.what()));
    return e.code();
  }
  FAIL("no error");
  return Errc::internal;
}

// An OCI layout tar around arbitrary documents (for broken-input tests).
struct LayoutBuilder {
  std::vector<TarEntry> entries{{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"}};
  std::string add_blob(const std::string& data) {
    std::string digest = sha256_digest(data);
    entries.push_back({"blobs/sha256/" + digest_hex(digest), data});
    return digest;
  }
  static json desc(const std::string& media_type, const std::string& data) {
    return {{"mediaType", media_type}, {"digest", sha256_digest(data)}, {"size", data.size()}};
  }
  void write(const std::string& path, const json& index_manifests) {
    json index = {{"schemaVersion", 2}, {"manifests", index_manifests}};
    entries.push_back({"index.json", index.dump()});
    testing::write_text(path, make_tar(entries));
  }
};

}  // namespace

TEST_CASE("runtime-image: importing an OCI image-layout tar") {
  const auto& fx = fixture_images();
  TempDir root;
  ImageManager manager(config_for(root.path));
  auto images = manager.import_archive(fx.tar("oci_index_tar"));
  REQUIRE(images.size() == 1);
  const Image& img = images[0];
  CHECK(img.id == fx.config("oci-amd64"));  // the index's linux/amd64 entry
  CHECK(img.repo_tags == std::vector<std::string>{kImportedName});
  CHECK(img.repo_digests.empty());
  auto layers = fx.layers(false);
  REQUIRE(img.layer_paths.size() == layers.size());
  CHECK(exists(img.layer_paths[0] + "/bin/busybox"));
  CHECK(exists(img.layer_paths[1] + "/etc/layer-b-marker"));
  CHECK(exists(img.layer_paths[2] + "/etc/uncompressed-marker"));
  uint64_t size = fx.summary["manifests"]["oci-amd64"]["size"].get<uint64_t>() +
                  fx.summary["configs"]["oci-amd64"]["size"].get<uint64_t>();
  for (const auto& l : layers) size += l["size"].get<uint64_t>();
  CHECK(img.size == size);
  CHECK(img.config.user == "0:0");
  CHECK(img.config.entrypoint == std::vector<std::string>{"/bin/sh", "-c"});
  CHECK(img.config.cmd == std::vector<std::string>{"echo vpcri-test-image; exec sleep 3600"});
  CHECK(img.config.working_dir == "/data");
  CHECK(img.config.stop_signal == "SIGTERM");
  CHECK(img.config.volumes == std::vector<std::string>{"/data/volume"});
  CHECK(img.config.labels.at("org.vpcri.test.arch") == "amd64");
  CHECK(std::find(img.config.env.begin(), img.config.env.end(), "VPCRI_TEST_ARCH=amd64") != img.config.env.end());
  CHECK(sha256_digest(img.raw_config) == img.id);

  // Found by every kind of name; the arm64 manifest was not unpacked.
  for (const std::string& ref : {kImportedName, std::string("vpcri/imported"), std::string("vpcri/imported:latest"),
                                 img.id, img.id.substr(7), img.id.substr(7, 12), img.id.substr(0, 19)}) {
    CAPTURE(ref);
    auto found = manager.find(ref);
    REQUIRE(found.has_value());
    CHECK(found->id == img.id);
  }
  CHECK_FALSE(manager.find("vpcri/imported:other").has_value());
  CHECK_FALSE(manager.find("busybox").has_value());
  CHECK_FALSE(manager.find("Not A Reference").has_value());
  CHECK(manager.list().size() == 1);
  // Kept: amd64 manifest, config, layers. Dropped: the index (no repo digest refers to it for an
  // import), the arm64 manifest and config.
  check_store_holds_exactly(root.path, 2 + layers.size(), layers.size(), 1);
  if (fx.summary["has_zstd"].get<bool>()) CHECK(exists(img.layer_paths.at(3) + "/etc/zstd-marker"));

  FsUsage usage = manager.usage();
  CHECK(usage.mountpoint == root.path);
  CHECK(usage.used_bytes > size);
  CHECK(usage.inodes_used > 100);  // busybox applet symlinks

  // Importing again changes nothing.
  CHECK(manager.import_archive(fx.tar("oci_index_tar")).at(0).id == img.id);
  CHECK(manager.list().size() == 1);
}

TEST_CASE("runtime-image: importing an OCI layout whose index.json points at a manifest") {
  const auto& fx = fixture_images();
  TempDir root;
  ImageManager manager(config_for(root.path));
  auto images = manager.import_archive(fx.tar("oci_amd64_tar"));
  REQUIRE(images.size() == 1);
  CHECK(images[0].id == fx.config("oci-amd64"));
  CHECK(images[0].repo_tags == std::vector<std::string>{kImportedName});
}

TEST_CASE("runtime-image: importing a docker save tar") {
  const auto& fx = fixture_images();
  TempDir root;
  ImageManager manager(config_for(root.path));
  auto images = manager.import_archive(fx.tar("docker_save_tar"));
  REQUIRE(images.size() == 1);
  const Image& img = images[0];
  CHECK(img.id == fx.config("docker-amd64"));
  CHECK(img.repo_tags == std::vector<std::string>{kImportedName});
  auto gz = fx.layers(true);
  REQUIRE(img.layer_paths.size() == gz.size());
  CHECK(exists(img.layer_paths[0] + "/bin/busybox"));
  CHECK(exists(img.layer_paths[1] + "/etc/layer-b-marker"));
  // Overlay whiteouts were made from the OCI ones.
  struct stat st {};
  REQUIRE(::lstat((img.layer_paths[1] + "/etc/removed-by-upper").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(img.config.labels.at("org.vpcri.test.arch") == "amd64");
  // Stored: synthesized manifest, config, the (uncompressed) layers; nothing else of the tar.
  check_store_holds_exactly(root.path, 2 + gz.size(), gz.size(), 1);
}

TEST_CASE("runtime-image: tags move between images; remove collects only what no image uses") {
  const auto& fx = fixture_images();
  TempDir root;
  ImageManager manager(config_for(root.path));
  std::string oci_id = manager.import_archive(fx.tar("oci_index_tar")).at(0).id;
  // Same name, another image (docker config): the tag moves; the OCI image stays, by id only.
  std::string docker_id = manager.import_archive(fx.tar("docker_save_tar")).at(0).id;
  REQUIRE(oci_id != docker_id);
  CHECK(manager.find(kImportedName)->id == docker_id);
  auto old = manager.find(oci_id);
  REQUIRE(old.has_value());
  CHECK(old->repo_tags.empty());
  CHECK(manager.list().size() == 2);
  // Both images use the same base and change layers (identical diff ids -> chain ids).
  size_t shared = fx.layers(true).size();
  size_t oci_layers = fx.layers(false).size();
  CHECK(names_in(root.path + "/snapshots").size() == oci_layers);

  SUBCASE("a held image cannot be removed") {
    manager.hold(docker_id, "container-abc");
    try {
      manager.remove(kImportedName);
      FAIL("removed an image in use");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::failed_precondition);
      CHECK(std::string(e.what()).find("container-abc") != std::string::npos);
    }
    CHECK(manager.find(docker_id).has_value());
    manager.release(docker_id, "container-abc");
    manager.release(docker_id, "container-abc");  // idempotent
    CHECK(error_code_of([&] { manager.hold(sha256_digest("nope"), "c"); }) == Errc::not_found);
  }

  manager.remove(kImportedName);  // the docker image
  CHECK_FALSE(manager.find(docker_id).has_value());
  CHECK_FALSE(manager.find(kImportedName).has_value());
  auto remaining = manager.find(oci_id);
  REQUIRE(remaining.has_value());
  for (const auto& path : remaining->layer_paths) CHECK(exists(path));
  // The OCI image's blobs remain; the docker image's own (config, manifest, uncompressed layers) are gone.
  check_store_holds_exactly(root.path, 2 + oci_layers, oci_layers, 1);
  CHECK(shared == 2);

  manager.remove(oci_id.substr(7, 12));  // by id prefix
  CHECK(manager.list().empty());
  check_store_holds_exactly(root.path, 0, 0, 0);
  manager.remove(oci_id);  // idempotent
  manager.remove("never-existed:tag");
}

TEST_CASE("runtime-image: records survive a restart; a crash leaves nothing trusted") {
  const auto& fx = fixture_images();
  TempDir root;
  std::string id;
  size_t blobs = 0, snapshots = 0;
  {
    ImageManager manager(config_for(root.path));
    id = manager.import_archive(fx.tar("oci_index_tar")).at(0).id;
    blobs = names_in(root.path + "/blobs/sha256").size();
    snapshots = names_in(root.path + "/snapshots").size();
  }
  // What a crash mid-pull / mid-unpack / mid-removal leaves behind:
  testing::write_text(root.path + "/ingest/5f3a9b", "half a layer");
  testing::write_text(root.path + "/snapshots/tmp-7c1d/fs/etc/half-unpacked", "x");
  testing::write_text(root.path + "/blobs/sha256/" + digest_hex(sha256_digest("orphan")), "orphan");  // pulled, no record
  testing::write_text(root.path + "/snapshots/" + digest_hex(sha256_digest("orphan snap")) + "/fs/f", "x");
  testing::write_text(root.path + "/images/" + digest_hex(sha256_digest("damaged")) + ".json", "{\"version\":1,");

  ImageManager manager(config_for(root.path));
  auto images = manager.list();
  REQUIRE(images.size() == 1);
  CHECK(images[0].id == id);
  CHECK(images[0].repo_tags == std::vector<std::string>{kImportedName});
  CHECK(manager.find(kImportedName)->raw_config.size() > 0);
  CHECK(names_in(root.path + "/ingest").empty());
  CHECK(names_in(root.path + "/blobs/sha256").size() == blobs);
  CHECK(names_in(root.path + "/snapshots").size() == snapshots);
  // The damaged record is skipped (and left for inspection), not fatal.
  CHECK(names_in(root.path + "/images").size() == 2);
}

TEST_CASE("runtime-image: a record whose snapshot vanished is dropped at start") {
  const auto& fx = fixture_images();
  TempDir root;
  std::string layer_path;
  {
    ImageManager manager(config_for(root.path));
    layer_path = manager.import_archive(fx.tar("docker_save_tar")).at(0).layer_paths.at(1);
  }
  std::filesystem::remove_all(std::filesystem::path(layer_path).parent_path());
  ImageManager manager(config_for(root.path));
  CHECK(manager.list().empty());
  check_store_holds_exactly(root.path, 0, 0, 0);
}

TEST_CASE("runtime-image: broken archives are rejected and leave nothing stored") {
  TempDir root;
  TempDir work;
  ImageManager manager(config_for(root.path));
  std::string tar = work.path + "/broken.tar";
  auto check_rejected = [&](Errc expected) {
    CHECK(error_code_of([&] { manager.import_archive(tar); }) == expected);
    CHECK(manager.list().empty());
    check_store_holds_exactly(root.path, 0, 0, 0);
  };
  std::string layer_tar = make_tar({{"etc", "", TarEntry::dir}, {"etc/file", "content\n"}});
  std::string config = json{{"architecture", "amd64"},
                            {"os", "linux"},
                            {"rootfs", {{"type", "layers"}, {"diff_ids", {sha256_digest(layer_tar)}}}}}
                           .dump();
  auto manifest_for = [&](const std::string& cfg, const std::string& layer) {
    return json{{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                {"config", LayoutBuilder::desc("application/vnd.oci.image.config.v1+json", cfg)},
                {"layers", {LayoutBuilder::desc("application/vnd.oci.image.layer.v1.tar", layer)}}}
        .dump();
  };
  json ann = {{"org.opencontainers.image.ref.name", "example.com/broken:1"}};

  SUBCASE("the control case imports") {
    LayoutBuilder b;
    b.add_blob(layer_tar);
    b.add_blob(config);
    std::string m = manifest_for(config, layer_tar);
    b.add_blob(m);
    json d = LayoutBuilder::desc("application/vnd.oci.image.manifest.v1+json", m);
    d["annotations"] = ann;
    b.write(tar, json::array({d}));
    auto images = manager.import_archive(tar);
    REQUIRE(images.size() == 1);
    CHECK(images[0].repo_tags == std::vector<std::string>{"example.com/broken:1"});
    CHECK(testing::read_text(images[0].layer_paths.at(0) + "/etc/file") == "content\n");
  }
  SUBCASE("a blob whose content does not match its digest") {
    LayoutBuilder b;
    b.entries.push_back({"blobs/sha256/" + digest_hex(sha256_digest(layer_tar)), "tampered layer"});
    b.add_blob(config);
    std::string m = manifest_for(config, layer_tar);
    b.add_blob(m);
    b.write(tar, json::array({LayoutBuilder::desc("application/vnd.oci.image.manifest.v1+json", m)}));
    check_rejected(Errc::invalid_argument);
  }
  SUBCASE("a layer whose content does not match the config's diff id") {
    std::string other_layer = make_tar({{"other", "x"}});
    LayoutBuilder b;
    b.add_blob(other_layer);
    b.add_blob(config);
    std::string m = manifest_for(config, other_layer);
    b.add_blob(m);
    b.write(tar, json::array({LayoutBuilder::desc("application/vnd.oci.image.manifest.v1+json", m)}));
    check_rejected(Errc::invalid_argument);
  }
  SUBCASE("malformed manifest JSON") {
    LayoutBuilder b;
    b.add_blob(layer_tar);
    b.add_blob(config);
    std::string m = "{\"schemaVersion\": 2, \"config\": ";
    b.add_blob(m);
    b.write(tar, json::array({LayoutBuilder::desc("application/vnd.oci.image.manifest.v1+json", m)}));
    check_rejected(Errc::invalid_argument);
  }
  SUBCASE("a manifest referring to a blob the archive lacks") {
    LayoutBuilder b;
    b.add_blob(config);
    std::string m = manifest_for(config, layer_tar);
    b.add_blob(m);
    b.write(tar, json::array({LayoutBuilder::desc("application/vnd.oci.image.manifest.v1+json", m)}));
    check_rejected(Errc::invalid_argument);
  }
  SUBCASE("malformed index.json") {
    testing::write_text(tar, make_tar({{"index.json", "{\"manifests\": [ {"}}));
    check_rejected(Errc::invalid_argument);
  }
  SUBCASE("docker manifest.json naming a missing layer") {
    testing::write_text(tar, make_tar({{"cfg.json", config},
                                       {"manifest.json", R"([{"Config":"cfg.json","RepoTags":["x:1"],"Layers":["l/layer.tar"]}])"}}));
    check_rejected(Errc::invalid_argument);
  }
  SUBCASE("a tar that is no image archive") {
    testing::write_text(tar, make_tar({{"README", "hello"}}));
    check_rejected(Errc::invalid_argument);
  }
  SUBCASE("not a tar at all") {
    testing::write_text(tar, std::string(5000, '\x01'));
    check_rejected(Errc::invalid_argument);
  }
  SUBCASE("a missing file") {
    tar = work.path + "/absent.tar";
    check_rejected(Errc::not_found);
  }
}

// ---------------------------------------------------------------------------------------------
// Pulls from a real registry (docker-registry on 127.0.0.1, started by tests/fixtures/registry.py).

namespace {

// One registry for all pull subcases (starting one and pushing the images takes seconds); each
// subcase starts with no faults and an empty request log. Stopped by PID at exit.
vpcri::test::RegistryFixture& shared_registry() {
  static std::unique_ptr<vpcri::test::RegistryFixture> registry = std::make_unique<vpcri::test::RegistryFixture>(
      VPCRI_TEST_PYTHON, std::string(VPCRI_TEST_FIXTURES_DIR) + "/registry.py", std::vector<std::string>{"--push-images"});
  registry->clear_faults();
  registry->clear_request_log();
  return *registry;
}

ManagerConfig config_for_registry(const std::string& root, const vpcri::test::RegistryFixture& reg) {
  ManagerConfig c = config_for(root);
  c.registry.hosts[reg.registry_host()].insecure_http = true;
  c.registry.hosts[reg.proxy_host()].insecure_http = true;
  return c;
}

std::string images_digest(const vpcri::test::RegistryFixture& reg, const char* group, const char* key) {
  return reg.info().at("images").at(group).at(key).at("digest").get<std::string>();
}

}  // namespace

TEST_CASE("runtime-image: pulling from a registry") {
  auto* reg = &shared_registry();
  TempDir root;
  const std::string repo = reg->proxy_host() + "/library/busybox";

  SUBCASE("a multi-platform tag resolves to linux/amd64") {
    ImageManager manager(config_for_registry(root.path, *reg));
    std::set<std::string> progressed;
    Image img = manager.pull(repo, {}, [&](const std::string& what, int64_t done, int64_t) {
      if (done > 0) progressed.insert(what);
    });
    CHECK(img.id == images_digest(*reg, "configs", "oci-amd64"));
    CHECK(img.repo_tags == std::vector<std::string>{repo + ":latest"});
    CHECK(img.repo_digests == std::vector<std::string>{repo + "@" + images_digest(*reg, "tags", "latest")});
    CHECK(exists(img.layer_paths.at(0) + "/bin/busybox"));
    CHECK(img.config.labels.at("org.vpcri.test.arch") == "amd64");
    CHECK(progressed.size() >= img.layer_paths.size());
    CHECK(manager.find(img.repo_digests[0])->id == img.id);
    CHECK(manager.find(repo)->id == img.id);

    // The same image by digest needs no request at all: everything is stored and verified.
    // Nor does it rewrite the image's record: an unchanged record is not saved again (a saved
    // copy is a new file renamed over the old one, with its own inode and modification time).
    const std::string record_path = root.path + "/images/" + digest_hex(img.id) + ".json";
    auto record_identity = [&] {
      struct stat st {};
      REQUIRE(::stat(record_path.c_str(), &st) == 0);
      return std::to_string(st.st_ino) + "@" + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec);
    };
    const std::string record_before = record_identity();
    reg->clear_request_log();
    Image again = manager.pull(img.repo_digests[0]);
    CHECK(again.id == img.id);
    CHECK(reg->request_log().empty());
    CHECK(record_identity() == record_before);
    // By tag, a present image costs one request: the tag's manifest (an index whose platform
    // manifest, config and layers are all stored). No blob, no second manifest.
    reg->clear_request_log();
    CHECK(manager.pull(repo).id == img.id);
    CHECK(record_identity() == record_before);
    const nlohmann::json by_tag = reg->request_log();
    REQUIRE_MESSAGE(by_tag.size() == 1, by_tag.dump());
    CHECK(by_tag[0].value("path", "") == "/v2/library/busybox/manifests/latest");

    // A Docker schema 2 list of the same layers: a different image (other config), shared snapshots.
    size_t snapshots_before = names_in(root.path + "/snapshots").size();
    Image docker = manager.pull(repo + ":docker-list");
    CHECK(docker.id == images_digest(*reg, "configs", "docker-amd64"));
    CHECK(names_in(root.path + "/snapshots").size() == snapshots_before);
    CHECK(manager.list().size() == 2);
  }

  SUBCASE("another configured platform is picked from the index") {
    ManagerConfig c = config_for_registry(root.path, *reg);
    c.platform_arch = "arm64";
    ImageManager manager(c);
    CHECK(manager.pull(repo).id == images_digest(*reg, "configs", "oci-arm64"));
  }

  SUBCASE("an index without the platform names the ones it has and stores nothing") {
    ManagerConfig c = config_for_registry(root.path, *reg);
    c.platform_arch = "s390x";
    ImageManager manager(c);
    try {
      manager.pull(repo);
      FAIL("pulled an image for a platform the index lacks");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::not_found);
      CHECK(std::string(e.what()).find("linux/amd64") != std::string::npos);
      CHECK(std::string(e.what()).find("linux/arm64/v8") != std::string::npos);
    }
    check_store_holds_exactly(root.path, 0, 0, 0);
  }

  SUBCASE("an unknown image is not_found and leaves nothing") {
    ImageManager manager(config_for_registry(root.path, *reg));
    CHECK(error_code_of([&] { manager.pull(repo + ":no-such-tag"); }) == Errc::not_found);
    CHECK(error_code_of([&] { manager.pull(reg->registry_host() + "/library/nothing"); }) == Errc::not_found);
    CHECK(error_code_of([&] { manager.pull("Invalid Reference"); }) == Errc::invalid_argument);
    CHECK(manager.list().empty());
    check_store_holds_exactly(root.path, 0, 0, 0);
  }

  SUBCASE("a corrupted layer download fails the pull and leaves nothing half-stored") {
    ImageManager manager(config_for_registry(root.path, *reg));
    std::string layer = reg->info()["images"]["layers"][0]["digest"].get<std::string>();
    reg->add_faults({"kind=corrupt-body,path=/blobs/" + layer + ",count=always"});
    CHECK_THROWS_AS(manager.pull(reg->proxy_host() + "/library/busybox"), Error);
    CHECK(manager.list().empty());
    check_store_holds_exactly(root.path, 0, 0, 0);
    // Once the registry behaves, the same pull works.
    reg->clear_faults();
    CHECK(manager.pull(reg->proxy_host() + "/library/busybox").id == images_digest(*reg, "configs", "oci-amd64"));
  }

  SUBCASE("concurrent pulls of one image download each blob once") {
    ImageManager manager(config_for_registry(root.path, *reg));
    reg->clear_request_log();
    const std::string ref = reg->proxy_host() + "/library/busybox:latest";
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&] {
        try {
          if (manager.pull(ref).id == images_digest(*reg, "configs", "oci-amd64")) ++ok;
        } catch (const std::exception& e) {
          MESSAGE("pull failed: " << std::string(e.what()));
        }
      });
    for (auto& t : threads) t.join();
    CHECK(ok == 4);
    std::map<std::string, int> blob_gets;
    for (const auto& entry : reg->request_log()) {
      std::string path = entry.value("path", "");
      if (entry.value("method", "") == "GET" && entry.value("status", 0) == 200 &&
          path.find("/blobs/sha256:") != std::string::npos)
        ++blob_gets[path];
    }
    CHECK(blob_gets.size() == 1 + fixture_images().layers(false).size());  // config + layers
    for (const auto& [path, count] : blob_gets) CHECK_MESSAGE(count == 1, path);
    CHECK(manager.list().size() == 1);
  }
}

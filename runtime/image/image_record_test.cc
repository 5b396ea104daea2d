#include "runtime/image/image_record.h"

#include <doctest/doctest.h>

#include "common/error.h"
#include "runtime/image/digest.h"
#include "runtime/image/test_util.h"

using namespace vpcri::runtime::image;
using testing::TempDir;

namespace {

ImageRecord sample(const std::string& seed) {
  ImageRecord r;
  r.id = sha256_digest("config " + seed);
  r.manifest_digest = sha256_digest("manifest " + seed);
  r.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
  r.layers = {{sha256_digest("layer " + seed), "application/vnd.oci.image.layer.v1.tar+gzip", 1234}};
  r.diff_ids = {sha256_digest("diff " + seed)};
  r.chain_ids = r.diff_ids;
  r.size = 4321;
  r.config.user = "1000:1000";
  r.config.env = {"PATH=/bin", "A=b c"};
  r.config.entrypoint = {"/bin/sh", "-c"};
  r.config.cmd = {"echo hi"};
  r.config.working_dir = "/work";
  r.config.labels = {{"a", "1"}, {"b", "two"}};
  r.config.stop_signal = "SIGQUIT";
  r.config.volumes = {"/data"};
  return r;
}

}  // namespace

TEST_CASE("runtime-image: image records round-trip through JSON files") {
  TempDir dir;
  RecordStore store(dir.path);
  ImageRecord r = sample("a");
  r.repo_tags = {"docker.io/library/busybox:latest"};
  r.repo_digests = {"docker.io/library/busybox@" + sha256_digest("index")};
  store.save(r);
  auto loaded = store.load_all();
  REQUIRE(loaded.size() == 1);
  const ImageRecord& l = loaded.at(r.id);
  CHECK(l.repo_tags == r.repo_tags);
  CHECK(l.repo_digests == r.repo_digests);
  CHECK(l.manifest_digest == r.manifest_digest);
  CHECK(l.manifest_media_type == r.manifest_media_type);
  REQUIRE(l.layers.size() == 1);
  CHECK(l.layers[0].digest == r.layers[0].digest);
  CHECK(l.layers[0].media_type == r.layers[0].media_type);
  CHECK(l.layers[0].size == 1234);
  CHECK(l.diff_ids == r.diff_ids);
  CHECK(l.chain_ids == r.chain_ids);
  CHECK(l.size == 4321);
  CHECK(l.config.user == "1000:1000");
  CHECK(l.config.env == r.config.env);
  CHECK(l.config.entrypoint == r.config.entrypoint);
  CHECK(l.config.cmd == r.config.cmd);
  CHECK(l.config.working_dir == "/work");
  CHECK(l.config.labels == r.config.labels);
  CHECK(l.config.stop_signal == "SIGQUIT");
  CHECK(l.config.volumes == r.config.volumes);

  store.erase(r.id);
  CHECK(store.load_all().empty());
  store.erase(r.id);  // idempotent
}

TEST_CASE("runtime-image: damaged image records are skipped, good ones load") {
  TempDir dir;
  RecordStore store(dir.path);
  ImageRecord good = sample("good");
  store.save(good);
  std::string images = dir.path + "/images/";
  testing::write_text(images + digest_hex(sha256_digest("x")) + ".json", "{\"version\": 1, \"id\": ");  // truncated
  testing::write_text(images + digest_hex(sha256_digest("y")) + ".json", "[]");
  // Valid JSON, but under another image's file name.
  testing::write_text(images + digest_hex(sha256_digest("z")) + ".json", record_to_json(sample("other")));
  ImageRecord inconsistent = sample("w");
  inconsistent.chain_ids.clear();
  testing::write_text(images + digest_hex(inconsistent.id) + ".json", record_to_json(inconsistent));
  testing::write_text(images + "leftover.json.tmp.123.456", "partial");
  auto loaded = store.load_all();
  CHECK(loaded.size() == 1);
  CHECK(loaded.count(good.id) == 1);
  CHECK_FALSE(std::filesystem::exists(images + "leftover.json.tmp.123.456"));
}

TEST_CASE("runtime-image: a tag moves to the newly pulled image; the old image keeps its other names") {
  std::map<std::string, ImageRecord> records;
  ImageRecord old_image = sample("old");
  old_image.repo_tags = {"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"};
  old_image.repo_digests = {"docker.io/library/busybox@" + sha256_digest("old manifest")};
  ImageRecord lone = sample("lone");
  lone.repo_tags = {"docker.io/library/app:v1"};
  records[old_image.id] = old_image;
  records[lone.id] = lone;
  ImageRecord new_image = sample("new");
  records[new_image.id] = new_image;

  auto changed = assign_names(records, new_image.id, {"docker.io/library/busybox:latest"},
                              {"docker.io/library/busybox@" + sha256_digest("new manifest")});
  CHECK(changed == std::set<std::string>{old_image.id, new_image.id});
  CHECK(records[new_image.id].repo_tags == std::vector<std::string>{"docker.io/library/busybox:latest"});
  CHECK(records[old_image.id].repo_tags == std::vector<std::string>{"docker.io/library/busybox:1.36"});
  CHECK(records[old_image.id].repo_digests == old_image.repo_digests);
  CHECK(records[lone.id].repo_tags == lone.repo_tags);

  // Moving the last tag leaves an image with digests only; moving everything leaves it nameless
  // but still present (listed by id, as containerd does).
  assign_names(records, new_image.id, {"docker.io/library/busybox:1.36"}, old_image.repo_digests);
  CHECK(records[old_image.id].repo_tags.empty());
  CHECK(records[old_image.id].repo_digests.empty());
  CHECK(records.count(old_image.id) == 1);

  // Assigning names it already has changes nothing.
  CHECK(assign_names(records, new_image.id, {"docker.io/library/busybox:1.36"}, {}).empty());
  CHECK_THROWS_AS(assign_names(records, sha256_digest("absent"), {}, {}), vpcri::Error);
}

#include "runtime/image/snapshot_store.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "common/error.h"
#include "runtime/image/content_store.h"
#include "runtime/image/digest.h"
#include "runtime/image/layer_digest.h"
#include "runtime/image/test_archive.h"
#include "runtime/image/test_util.h"

using namespace vpcri::runtime::image;
using testing::Compression;
using testing::make_tar;
using testing::names_in;
using testing::TarEntry;
using testing::TempDir;

TEST_CASE("runtime-image: chain ids follow the OCI image spec") {
  // Expected values computed independently with Python's hashlib.
  const std::string d1 = "sha256:f191e625176e7514249870c60bc24622131b04927a418001d1969c9cecd260f1";
  const std::string d2 = "sha256:77c7ed05b2e49df2e55d70cb007508cc66b2f5419a940bfd6f8749ba7db77c45";
  const std::string d3 = "sha256:6483085b79dcef99d4d90b43a910666cdce078bf772da453728f8c385fbfdf2f";
  CHECK(d1 == sha256_digest("layer one"));
  auto ids = chain_ids({d1, d2, d3});
  REQUIRE(ids.size() == 3);
  CHECK(ids[0] == d1);
  CHECK(ids[1] == "sha256:d440fc2ac5bfa225471b58c5d6b4283504f5dfbcd6251023a635cdcd0c058e3e");
  CHECK(ids[2] == "sha256:952689aceeac7e377b602804de533a4ad47ba634e3917ca7cb071e5ff2bff6cd");
  CHECK(chain_ids({}).empty());
  CHECK_THROWS_AS(chain_ids({"sha256:nothex"}), vpcri::Error);
}

TEST_CASE("runtime-image: diff ids are computed over the uncompressed layer") {
  TempDir dir;
  std::string tar = make_tar({{"etc", "", TarEntry::dir}, {"etc/hello", "hello\n"}});
  std::string gz = make_tar({{"etc", "", TarEntry::dir}, {"etc/hello", "hello\n"}}, Compression::gzip);
  REQUIRE(gz != tar);
  testing::write_text(dir.path + "/plain", tar);
  testing::write_text(dir.path + "/gz", gz);
  testing::write_text(dir.path + "/empty", "");
  testing::write_text(dir.path + "/bad.gz", gz.substr(0, gz.size() / 2));
  CHECK(uncompressed_digest(dir.path + "/plain") == sha256_digest(tar));
  CHECK(uncompressed_digest(dir.path + "/gz") == sha256_digest(tar));
  CHECK(uncompressed_digest(dir.path + "/empty") == sha256_digest(""));
  CHECK_THROWS_AS(uncompressed_digest(dir.path + "/bad.gz"), vpcri::Error);
}

TEST_CASE("runtime-image: layers are unpacked once, verified, and never half-present") {
  TempDir dir;
  ContentStore content(dir.path);
  SnapshotStore snapshots(dir.path);
  std::string tar = make_tar({{"etc", "", TarEntry::dir}, {"etc/marker", "layer content\n"}});
  std::string blob = make_tar({{"etc", "", TarEntry::dir}, {"etc/marker", "layer content\n"}}, Compression::gzip);
  std::string blob_digest = content.put(blob);
  std::string diff_id = sha256_digest(tar);
  std::string chain = chain_ids({diff_id})[0];

  SUBCASE("a mismatching diff id is rejected and nothing is left") {
    std::string wrong = sha256_digest("not this layer");
    try {
      snapshots.ensure(wrong, content.path(blob_digest), blob_digest, wrong);
      FAIL("unpacked a layer whose diff id does not match");
    } catch (const vpcri::Error& e) {
      CHECK(e.code() == vpcri::Errc::invalid_argument);
      CHECK(std::string(e.what()).find(diff_id) != std::string::npos);
    }
    CHECK_FALSE(snapshots.contains(wrong));
    CHECK(names_in(dir.path + "/snapshots").empty());
  }

  SUBCASE("concurrent unpacks of one layer unpack it once") {
    std::atomic<int> unpacked{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&] {
        if (snapshots.ensure(chain, content.path(blob_digest), blob_digest, diff_id)) ++unpacked;
      });
    for (auto& t : threads) t.join();
    CHECK(unpacked == 1);
    CHECK(snapshots.contains(chain));
    CHECK(testing::read_text(snapshots.path(chain) + "/etc/marker") == "layer content\n");
    CHECK(snapshots.path(chain) == dir.path + "/snapshots/" + digest_hex(chain) + "/fs");
    CHECK(snapshots.list() == std::vector<std::string>{chain});
    CHECK(names_in(dir.path + "/snapshots").size() == 1);  // no temp dirs left
    snapshots.remove(chain);
    CHECK_FALSE(snapshots.contains(chain));
    CHECK(names_in(dir.path + "/snapshots").empty());
    snapshots.remove(chain);  // idempotent
  }

  SUBCASE("a layer that cannot be unpacked leaves nothing") {
    std::string bad = content.put(std::string(3000, 'z'));
    CHECK_THROWS_AS(snapshots.ensure(bad, content.path(bad), bad, bad), vpcri::Error);
    CHECK(names_in(dir.path + "/snapshots").empty());
  }
}

TEST_CASE("runtime-image: a compression bomb stops at the layer and image caps and leaves nothing") {
  TempDir dir;
  ContentStore content(dir.path);
  SnapshotStore snapshots(dir.path);
  // 8 MiB of zeros: a gzip blob of a few KiB.
  std::string tar = make_tar({{"bomb", std::string(8 << 20, '\0')}});
  std::string blob = make_tar({{"bomb", std::string(8 << 20, '\0')}}, Compression::gzip);
  REQUIRE(blob.size() < 64 * 1024);
  std::string blob_digest = content.put(blob);
  std::string diff_id = sha256_digest(tar);
  std::string chain = chain_ids({diff_id})[0];

  std::atomic<uint64_t> image_bytes{0};
  vpcri::runtime::snapshot::UnpackLimits limits;
  std::string limit_name;
  SUBCASE("per layer") {
    limits.max_layer_bytes = 1 << 20;
    limit_name = "per-layer limit of 1048576 bytes";
  }
  SUBCASE("per image, with the bytes other layers of the pull unpacked") {
    image_bytes = 3 << 20;
    limits.image_bytes = &image_bytes;
    limits.max_image_bytes = 10 << 20;
    limit_name = "per-image limit of 10485760 bytes";
  }
  try {
    snapshots.ensure(chain, content.path(blob_digest), blob_digest, diff_id, limits);
    FAIL("a layer beyond the cap was unpacked");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::resource_exhausted);
    CHECK_MESSAGE(std::string(e.what()).find(limit_name) != std::string::npos, e.what());
  }
  CHECK_FALSE(snapshots.contains(chain));
  CHECK(names_in(dir.path + "/snapshots").empty());  // no partial snapshot, no temp dir
  // Under the caps the same layer unpacks.
  limits.max_layer_bytes = 9 << 20;
  limits.image_bytes = &image_bytes;
  image_bytes = 0;
  CHECK(snapshots.ensure(chain, content.path(blob_digest), blob_digest, diff_id, limits));
  CHECK(image_bytes >= (8u << 20));
}

TEST_CASE("runtime-image: unfinished unpacks and removals are cleaned at start") {
  TempDir dir;
  std::string tar = make_tar({{"file", "x"}});
  std::string diff_id = sha256_digest(tar);
  {
    ContentStore content(dir.path);
    SnapshotStore snapshots(dir.path);
    std::string digest = content.put(tar);
    snapshots.ensure(diff_id, content.path(digest), digest, diff_id);
  }
  std::string snaps = dir.path + "/snapshots/";
  testing::write_text(snaps + "tmp-0123/fs/half-unpacked", "x");
  std::filesystem::create_directories(snaps + digest_hex(sha256_digest("no fs dir")) + "/other");
  SnapshotStore snapshots(dir.path);
  CHECK(names_in(snaps) == std::vector<std::string>{digest_hex(diff_id)});
  CHECK(snapshots.list() == std::vector<std::string>{diff_id});
  CHECK(testing::read_text(snapshots.path(diff_id) + "/file") == "x");
}

#include "runtime/image/content_store.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "common/error.h"
#include "runtime/image/digest.h"
#include "runtime/image/test_util.h"

using namespace vpcri::runtime::image;
using vpcri::Errc;
using vpcri::Error;
using testing::names_in;
using testing::TempDir;

TEST_CASE("runtime-image: sha256 digests and their validation") {
  // FIPS 180-2 test vector.
  CHECK(sha256_digest("abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 streamed;
  streamed.update("a");
  streamed.update("");
  streamed.update("bc");
  CHECK(streamed.finish() == sha256_digest("abc"));
  CHECK(is_valid_digest(sha256_digest("")));
  CHECK_FALSE(is_valid_digest("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
  CHECK_FALSE(is_valid_digest("sha256:abc"));
  CHECK_FALSE(is_valid_digest("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  CHECK_FALSE(is_valid_digest("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  CHECK_THROWS_AS(check_digest("sha256:../../etc/passwd", "test"), Error);
  CHECK(digest_hex(sha256_digest("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(random_hex(8).size() == 16);
  CHECK(random_hex(8) != random_hex(8));
}

TEST_CASE("runtime-image: content store keeps verified blobs by digest") {
  TempDir dir;
  ContentStore store(dir.path);
  std::string digest = store.put("hello blob");
  CHECK(digest == sha256_digest("hello blob"));
  CHECK(store.contains(digest));
  CHECK(store.size(digest) == 10u);
  CHECK(store.read(digest) == "hello blob");
  CHECK(store.path(digest) == dir.path + "/blobs/sha256/" + digest_hex(digest));
  CHECK(store.list() == std::vector<std::string>{digest});
  CHECK_THROWS_AS(store.read(digest, 5), Error);
  store.remove(digest);
  CHECK_FALSE(store.contains(digest));
  store.remove(digest);  // idempotent
  try {
    store.read(digest);
    FAIL("read of a removed blob succeeded");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
  }
}

TEST_CASE("runtime-image: a blob that does not match its digest or size is rejected and leaves nothing") {
  TempDir dir;
  ContentStore store(dir.path);
  std::string expected = sha256_digest("the real content");

  {
    auto w = store.writer(expected, 16);
    w.write("the fake content");
    try {
      w.commit();
      FAIL("commit of mismatching content succeeded");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_argument);
      CHECK(std::string(e.what()).find(expected) != std::string::npos);
      CHECK(std::string(e.what()).find(sha256_digest("the fake content")) != std::string::npos);
    }
  }
  CHECK_FALSE(store.contains(expected));
  CHECK_FALSE(store.contains(sha256_digest("the fake content")));
  CHECK(names_in(dir.path + "/ingest").empty());

  {
    auto w = store.writer(expected, 4);
    CHECK_THROWS_AS(w.write("more than four bytes"), Error);
  }
  {
    auto w = store.writer(expected, 100);
    w.write("the real content");
    CHECK_THROWS_AS(w.commit(), Error);  // short
  }
  {
    auto w = store.writer(expected);
    w.write("the real");  // abandoned: the writer goes away without commit
    CHECK(names_in(dir.path + "/ingest").size() == 1);
  }
  CHECK(names_in(dir.path + "/ingest").empty());
  CHECK(store.list().empty());
  CHECK_THROWS_AS(store.put("x", expected), Error);
  CHECK(names_in(dir.path + "/ingest").empty());

  // A writer without an expected digest stores under the digest it computes.
  auto w = store.writer("");
  w.write("computed");
  CHECK(w.commit() == sha256_digest("computed"));
  CHECK(store.read(sha256_digest("computed")) == "computed");
}

TEST_CASE("runtime-image: concurrent ingests of one digest fetch once") {
  TempDir dir;
  ContentStore store(dir.path);
  std::string data(100000, 'x');
  std::string digest = sha256_digest(data);
  std::atomic<int> fills{0};
  std::atomic<int> did_work{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      bool worked = store.ensure(digest, static_cast<int64_t>(data.size()), [&](ContentWriter& w) {
        ++fills;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        w.write(data);
      });
      if (worked) ++did_work;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(fills == 1);
  CHECK(did_work == 1);
  CHECK(store.read(digest) == data);
  // Present: no fill at all.
  CHECK_FALSE(store.ensure(digest, -1, [&](ContentWriter&) { ++fills; }));
  CHECK(fills == 1);
}

TEST_CASE("runtime-image: a waiter retries when the ingest it waited for failed") {
  TempDir dir;
  ContentStore store(dir.path);
  std::string digest = sha256_digest("payload");
  std::atomic<bool> first_started{false};
  std::atomic<int> second_fills{0};
  std::thread first([&] {
    CHECK_THROWS_AS(store.ensure(digest, 7,
                                 [&](ContentWriter& w) {
                                   first_started = true;
                                   std::this_thread::sleep_for(std::chrono::milliseconds(100));
                                   w.write("garbage");  // wrong content: commit fails
                                 }),
                    Error);
  });
  while (!first_started) std::this_thread::yield();
  CHECK(store.ensure(digest, 7, [&](ContentWriter& w) {
    ++second_fills;
    w.write("payload");
  }));
  first.join();
  CHECK(second_fills == 1);
  CHECK(store.read(digest) == "payload");
  CHECK(names_in(dir.path + "/ingest").empty());
}

TEST_CASE("runtime-image: leftover ingest files are removed at start, committed blobs kept") {
  TempDir dir;
  std::string kept;
  {
    ContentStore store(dir.path);
    kept = store.put("committed");
  }
  testing::write_text(dir.path + "/ingest/0123abcd", "half a download");
  testing::write_text(dir.path + "/ingest/subdir/file", "junk");
  ContentStore store(dir.path);
  CHECK(names_in(dir.path + "/ingest").empty());
  CHECK(store.list() == std::vector<std::string>{kept});
  CHECK(store.read(kept) == "committed");
}

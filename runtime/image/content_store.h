// Content-addressed blob store: <root>/blobs/sha256/<hex>. A blob appears there only after its
// bytes were hashed while being written and matched the expected digest and size; until then
// they live in <root>/ingest/, which is emptied at startup, so a crash mid-pull leaves nothing
// that is trusted.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "runtime/image/digest.h"
#include "runtime/image/single_flight.h"

namespace vpcri::runtime::image {

// Streams one blob into the store. Destroying it without a successful commit() deletes its
// temporary file.
class ContentWriter {
 public:
  ContentWriter(ContentWriter&& other) noexcept;
  ContentWriter& operator=(ContentWriter&&) = delete;
  ContentWriter(const ContentWriter&) = delete;
  ContentWriter& operator=(const ContentWriter&) = delete;
  ~ContentWriter();

  // Throws Error(invalid_argument) as soon as more bytes arrive than the expected size.
  void write(const char* data, size_t size);
  void write(std::string_view data) { write(data.data(), data.size()); }
  uint64_t written() const { return written_; }

  // Checks size and digest (Error(invalid_argument) naming both on mismatch), fsyncs, and
  // renames the blob into place. Returns the blob's digest. `before_publish(digest)`, if given,
  // runs after verification and before the blob becomes visible (to lease it against GC).
  std::string commit(const std::function<void(const std::string&)>& before_publish = nullptr);

 private:
  friend class ContentStore;
  ContentWriter(std::string blob_dir, std::string temp_path, UniqueFd fd, std::string expected_digest,
                int64_t expected_size);
  void flush();

  std::string blob_dir_, temp_path_, expected_digest_;
  int64_t expected_size_;
  UniqueFd fd_;
  Sha256 hash_;
  std::string buffer_;
  uint64_t written_ = 0;
  bool done_ = false;
};

class ContentStore {
 public:
  // Creates the directories and removes leftover ingest files of an earlier run.
  explicit ContentStore(std::string root);

  std::string path(const std::string& digest) const;
  bool contains(const std::string& digest) const;
  // Size on disk, or nullopt when the blob is absent.
  std::optional<uint64_t> size(const std::string& digest) const;
  // Reads a whole blob; Error(not_found) if absent, Error(invalid_argument) if bigger than max_size.
  std::string read(const std::string& digest, size_t max_size = 64u << 20) const;

  // `expected_digest` empty: the digest is computed and returned by commit().
  // `expected_size` < 0: any size.
  ContentWriter writer(const std::string& expected_digest, int64_t expected_size = -1) const;

  // Stores `data` (verifying it against `expected_digest` when given); returns its digest.
  std::string put(std::string_view data, const std::string& expected_digest = {});

  // Makes sure blob `digest` is in the store. Returns false at once if it already is. If another
  // thread is ingesting the same digest, waits for it instead of fetching again (and fetches
  // itself only if that attempt failed). Otherwise calls fill(writer), commits, returns true.
  bool ensure(const std::string& digest, int64_t expected_size, const std::function<void(ContentWriter&)>& fill);

  std::vector<std::string> list() const;  // digests of all stored blobs
  void remove(const std::string& digest);  // absent blobs are ignored

 private:
  std::string root_, blob_dir_, ingest_dir_;
  SingleFlight ingests_;
};

}  // namespace vpcri::runtime::image

#include "runtime/image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "runtime/image/tree.h"

namespace vpcri::runtime::image {
namespace {

constexpr size_t kWriteBuffer = 256 * 1024;

void fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) throw_errno("fsync " + dir);
}

std::string shown_digest(const std::string& digest) { return digest.empty() ? "(digest computed)" : digest; }

}  // namespace

ContentWriter::ContentWriter(std::string blob_dir, std::string temp_path, UniqueFd fd, std::string expected_digest,
                             int64_t expected_size)
    : blob_dir_(std::move(blob_dir)),
      temp_path_(std::move(temp_path)),
      expected_digest_(std::move(expected_digest)),
      expected_size_(expected_size),
      fd_(std::move(fd)) {
  buffer_.reserve(kWriteBuffer);
}

ContentWriter::ContentWriter(ContentWriter&& other) noexcept
    : blob_dir_(std::move(other.blob_dir_)),
      temp_path_(std::move(other.temp_path_)),
      expected_digest_(std::move(other.expected_digest_)),
      expected_size_(other.expected_size_),
      fd_(std::move(other.fd_)),
      hash_(std::move(other.hash_)),
      buffer_(std::move(other.buffer_)),
      written_(other.written_),
      done_(std::exchange(other.done_, true)) {}

ContentWriter::~ContentWriter() {
  if (done_) return;
  fd_.reset();
  ::unlink(temp_path_.c_str());
}

void ContentWriter::write(const char* data, size_t size) {
  if (done_) throw Error(Errc::internal, "ContentWriter::write after commit");
  if (expected_size_ >= 0 && written_ + size > static_cast<uint64_t>(expected_size_))
    throw Error(Errc::invalid_argument, "blob " + shown_digest(expected_digest_) + ": more data than the expected " +
                                            std::to_string(expected_size_) + " bytes");
  hash_.update(data, size);
  written_ += size;
  buffer_.append(data, size);
  if (buffer_.size() >= kWriteBuffer) flush();
}

void ContentWriter::flush() {
  std::string_view rest = buffer_;
  while (!rest.empty()) {
    ssize_t n = ::write(fd_.get(), rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write " + temp_path_);
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  buffer_.clear();
}

std::string ContentWriter::commit(const std::function<void(const std::string&)>& before_publish) {
  if (done_) throw Error(Errc::internal, "ContentWriter::commit called twice");
  flush();
  std::string actual = hash_.finish();
  if (expected_size_ >= 0 && written_ != static_cast<uint64_t>(expected_size_))
    throw Error(Errc::invalid_argument, "blob " + shown_digest(expected_digest_) + ": got " + std::to_string(written_) +
                                            " bytes, expected " + std::to_string(expected_size_));
  if (!expected_digest_.empty() && actual != expected_digest_)
    throw Error(Errc::invalid_argument, "blob " + expected_digest_ + ": content does not match its digest (the " +
                                            std::to_string(written_) + " bytes received hash to " + actual + ")");
  if (before_publish) before_publish(actual);
  if (::fsync(fd_.get()) != 0) throw_errno("fsync " + temp_path_);
  fd_.reset();
  std::string final_path = blob_dir_ + "/" + actual.substr(7);
  if (::rename(temp_path_.c_str(), final_path.c_str()) != 0) throw_errno("rename " + temp_path_ + " to " + final_path);
  done_ = true;
  fsync_dir(blob_dir_);
  return actual;
}

ContentStore::ContentStore(std::string root)
    : root_(std::move(root)), blob_dir_(root_ + "/blobs/sha256"), ingest_dir_(root_ + "/ingest") {
  fs::mkdir_p(blob_dir_, 0700);
  // Whatever an earlier run was writing when it stopped was never verified: drop it.
  for (const auto& name : list_dir(ingest_dir_)) {
    log::info("removing an unfinished blob ingest", {{"path", ingest_dir_ + "/" + name}});
    remove_tree(ingest_dir_ + "/" + name);
  }
  fs::mkdir_p(ingest_dir_, 0700);
}

std::string ContentStore::path(const std::string& digest) const { return blob_dir_ + "/" + digest_hex(digest); }

bool ContentStore::contains(const std::string& digest) const { return size(digest).has_value(); }

std::optional<uint64_t> ContentStore::size(const std::string& digest) const {
  struct stat st {};
  std::string p = path(digest);
  if (::stat(p.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("stat " + p);
  }
  return static_cast<uint64_t>(st.st_size);
}

std::string ContentStore::read(const std::string& digest, size_t max_size) const {
  auto blob_size = size(digest);
  if (!blob_size) throw Error(Errc::not_found, "blob " + digest + " is not in the content store");
  if (*blob_size > max_size)
    throw Error(Errc::invalid_argument, "blob " + digest + " is " + std::to_string(*blob_size) +
                                            " bytes, more than the " + std::to_string(max_size) + " allowed here");
  return fs::read_file(path(digest));
}

ContentWriter ContentStore::writer(const std::string& expected_digest, int64_t expected_size) const {
  if (!expected_digest.empty()) check_digest(expected_digest, "expected blob digest");
  std::string temp = ingest_dir_ + "/" + random_hex(12);
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) throw_errno("create " + temp);
  return ContentWriter(blob_dir_, std::move(temp), std::move(fd), expected_digest, expected_size);
}

std::string ContentStore::put(std::string_view data, const std::string& expected_digest) {
  if (!expected_digest.empty() && contains(expected_digest)) return expected_digest;
  auto w = writer(expected_digest, static_cast<int64_t>(data.size()));
  w.write(data);
  return w.commit();
}

bool ContentStore::ensure(const std::string& digest, int64_t expected_size,
                          const std::function<void(ContentWriter&)>& fill) {
  check_digest(digest, "blob");
  return ingests_.run(
      digest, [&] { return contains(digest); },
      [&] {
        auto w = writer(digest, expected_size);
        fill(w);
        w.commit();
      });
}

std::vector<std::string> ContentStore::list() const {
  std::vector<std::string> out;
  for (const auto& name : list_dir(blob_dir_)) {
    std::string digest = "sha256:" + name;
    if (is_valid_digest(digest)) out.push_back(std::move(digest));
  }
  return out;
}

void ContentStore::remove(const std::string& digest) {
  std::string p = path(digest);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("remove blob " + p);
}

}  // namespace vpcri::runtime::image

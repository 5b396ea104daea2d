#include "runtime/image/layer_digest.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <memory>

#include "common/error.h"
#include "runtime/image/digest.h"
#include "runtime/snapshot/unpack.h"

namespace vpcri::runtime::image {
namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

}  // namespace

std::string uncompressed_digest(const std::string& blob_path, uint64_t max_bytes) {
  struct stat st {};
  if (::stat(blob_path.c_str(), &st) != 0) throw_errno("stat " + blob_path);
  Sha256 hash;
  if (st.st_size == 0) return hash.finish();  // libarchive's raw reader wants at least one byte

  std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
  if (!a) throw Error(Errc::resource_exhausted, "libarchive: out of memory");
  archive_read_support_filter_none(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  // "raw" hands back the decompressed stream as one entry: exactly the bytes the diff id covers.
  archive_read_support_format_raw(a.get());
  auto fail = [&](const std::string& what) -> Error {
    const char* msg = archive_error_string(a.get());
    return Error(Errc::invalid_argument,
                 "layer blob " + blob_path + ": " + what + ": " + (msg != nullptr ? msg : "unknown libarchive error"));
  };
  if (archive_read_open_filename(a.get(), blob_path.c_str(), 1 << 20) != ARCHIVE_OK) throw fail("cannot open");
  archive_entry* entry = nullptr;
  if (archive_read_next_header(a.get(), &entry) != ARCHIVE_OK) throw fail("cannot decompress");
  char buf[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
    if (n < 0) throw fail("cannot decompress");
    if (n == 0) break;
    hash.update(buf, static_cast<size_t>(n));
    snapshot::UnpackLimits layer_only;
    layer_only.max_layer_bytes = max_bytes;
    snapshot::check_unpack_limits(layer_only, blob_path, static_cast<uint64_t>(archive_filter_bytes(a.get(), 0)), 0);
  }
  return hash.finish();
}

}  // namespace vpcri::runtime::image

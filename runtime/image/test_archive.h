// Builds small tar archives in memory for the runtime/image tests (libarchive writer).
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace vpcri::runtime::image::testing {

struct TarEntry {
  std::string path;
  std::string data;
  enum Kind { file, dir, symlink } kind = file;
  std::string link_target = {};  // symlink only
};

enum class Compression { none, gzip };

inline std::string make_tar(const std::vector<TarEntry>& entries, Compression compression = Compression::none) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (compression == Compression::gzip) archive_write_add_filter_gzip(a);
  archive_write_set_bytes_in_last_block(a, 1);
  auto open_cb = [](archive*, void*) -> int { return ARCHIVE_OK; };
  auto write_cb = [](archive*, void* ctx, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  if (archive_write_open(a, &out, open_cb, write_cb, nullptr) != ARCHIVE_OK) {
    archive_write_free(a);
    throw std::runtime_error("archive_write_open failed");
  }
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    archive_entry_set_mtime(entry, 1704067200, 0);
    if (e.kind == TarEntry::dir) {
      archive_entry_set_filetype(entry, AE_IFDIR);
      archive_entry_set_perm(entry, 0755);
    } else if (e.kind == TarEntry::symlink) {
      archive_entry_set_filetype(entry, AE_IFLNK);
      archive_entry_set_perm(entry, 0777);
      archive_entry_set_symlink(entry, e.link_target.c_str());
    } else {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_perm(entry, 0644);
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    }
    archive_write_header(a, entry);
    if (e.kind == TarEntry::file && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

}  // namespace vpcri::runtime::image::testing

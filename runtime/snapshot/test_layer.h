// Test-only helpers: crafted layer tarballs (written with libarchive, so the tests control
// every header field, hostile ones included) and scratch directories.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace vpcri::runtime::snapshot::testing {

struct TarEntry {
  std::string path;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string data;      // regular files
  std::string link;      // symlink target
  std::string hardlink;  // hardlink target (entry then has no data)
  int64_t uid = 0;
  int64_t gid = 0;
  unsigned dev_major = 0;
  unsigned dev_minor = 0;
  int64_t mtime = 1600000000;
  std::vector<std::pair<std::string, std::string>> xattrs;
  std::vector<std::pair<int64_t, int64_t>> sparse;  // data regions (offset, length); `data` is the whole file
};

inline TarEntry file(std::string path, std::string data, mode_t perm = 0644) {
  TarEntry e;
  e.path = std::move(path);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}
inline TarEntry dir(std::string path, mode_t perm = 0755) {
  TarEntry e;
  e.path = std::move(path);
  e.type = AE_IFDIR;
  e.perm = perm;
  return e;
}
inline TarEntry symlink_to(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.type = AE_IFLNK;
  e.perm = 0777;
  e.link = std::move(target);
  return e;
}
inline TarEntry hardlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.hardlink = std::move(target);
  return e;
}
inline TarEntry node(std::string path, mode_t type, unsigned major, unsigned minor, mode_t perm = 0666) {
  TarEntry e;
  e.path = std::move(path);
  e.type = type;
  e.perm = perm;
  e.dev_major = major;
  e.dev_minor = minor;
  return e;
}

enum class Compression { none, gzip, zstd };

inline void write_layer(const std::string& path, const std::vector<TarEntry>& entries,
                        Compression compression = Compression::none) {
  archive* a = archive_write_new();
  REQUIRE(a != nullptr);
  REQUIRE(archive_write_set_format_pax(a) == ARCHIVE_OK);
  if (compression == Compression::gzip) REQUIRE(archive_write_add_filter_gzip(a) == ARCHIVE_OK);
  if (compression == Compression::zstd) REQUIRE(archive_write_add_filter_zstd(a) == ARCHIVE_OK);
  REQUIRE(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK);
  for (const TarEntry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, e.perm);
    archive_entry_set_uid(entry, e.uid);
    archive_entry_set_gid(entry, e.gid);
    archive_entry_set_mtime(entry, e.mtime, 0);
    if (!e.link.empty()) archive_entry_set_symlink(entry, e.link.c_str());
    if (!e.hardlink.empty()) archive_entry_set_hardlink(entry, e.hardlink.c_str());
    if (e.type == AE_IFCHR || e.type == AE_IFBLK) {
      archive_entry_set_rdevmajor(entry, e.dev_major);
      archive_entry_set_rdevminor(entry, e.dev_minor);
    }
    for (const auto& [name, value] : e.xattrs) {
      archive_entry_xattr_add_entry(entry, name.c_str(), value.data(), value.size());
    }
    bool has_data = e.type == AE_IFREG && e.hardlink.empty();
    archive_entry_set_size(entry, has_data ? static_cast<int64_t>(e.data.size()) : 0);
    // After the size: libarchive drops regions that do not fit in it.
    for (const auto& [offset, length] : e.sparse) archive_entry_sparse_add_entry(entry, offset, length);
    REQUIRE(archive_write_header(a, entry) >= ARCHIVE_WARN);  // WARN: a name not valid in the locale, written raw
    if (has_data && !e.data.empty()) {
      REQUIRE(archive_write_data(a, e.data.data(), e.data.size()) == static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(entry);
  }
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  archive_write_free(a);
}

// A scratch directory, deleted with everything below it on every path out of a test.
struct TempDir {
  std::string path;
  explicit TempDir(const char* tag) {
    std::string tmpl = std::string("/tmp/vpcri-") + tag + ".XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace vpcri::runtime::snapshot::testing

#include "runtime/image/archive_import.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fd.h"
#include "common/fs.h"
#include "common/log.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_manager.h"
#include "runtime/image/oci.h"

namespace vpcri::runtime::image {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxMetadataFile = 16 << 20;
constexpr int kMaxLinkHops = 40;
constexpr const char* kContainerdNameAnnotation = "io.containerd.image.name";
constexpr const char* kOciRefNameAnnotation = "org.opencontainers.image.ref.name";

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

struct StoredFile {
  std::string digest;
  int64_t size = 0;
};

// "./a//b/../c" -> "a/c": archive paths are only names here, never opened on disk.
std::string clean_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// "blobs/sha256/<hex>" names its own digest.
std::string digest_from_blob_path(const std::string& path) {
  constexpr std::string_view prefix = "blobs/sha256/";
  if (!path.starts_with(prefix)) return {};
  std::string digest = "sha256:" + path.substr(prefix.size());
  return is_valid_digest(digest) ? digest : std::string();
}

bool is_metadata_file(const std::string& path) {
  return path == "index.json" || path == "manifest.json" || path == "oci-layout" || path == "repositories";
}

// Layer media type from the blob's first bytes: docker save stores layers uncompressed, but
// tools that repack archives may not.
std::string sniff_layer_type(const std::string& blob_path) {
  unsigned char magic[4] = {};
  UniqueFd fd(::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("open " + blob_path);
  ssize_t n = ::read(fd.get(), magic, sizeof magic);
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return "application/vnd.oci.image.layer.v1.tar+gzip";
  if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
    return "application/vnd.oci.image.layer.v1.tar+zstd";
  return media_type::kOciLayer;
}

// A normalized name, or "" (logged) when `text` is not a valid reference.
std::string normalized_name(const std::string& text, const std::string& where) {
  try {
    Reference ref = parse_reference(text);
    if (!ref.digest.empty()) return ref.name() + "@" + ref.digest;
    return ref.to_string();
  } catch (const Error& e) {
    log::warn("ignoring an invalid image name in an archive", {{"where", where}, {"error", e.what()}});
    return {};
  }
}

std::vector<std::string> names_from_annotations(const std::map<std::string, std::string>& ann, const std::string& where) {
  std::vector<std::string> names;
  std::string text;
  if (auto it = ann.find(kContainerdNameAnnotation); it != ann.end()) {
    text = it->second;
  } else if (auto ref = ann.find(kOciRefNameAnnotation); ref != ann.end()) {
    // The OCI annotation is often only a tag ("latest"), which names no repository: such an
    // image is kept by id only. "repo:tag" or "host/repo[:tag]" is a full name.
    if (ref->second.find_first_of("/:") != std::string::npos) {
      text = ref->second;
    } else {
      log::info("archive image has only a bare tag for a name; storing it by id only",
                {{"where", where}, {"ref_name", ref->second}});
    }
  }
  if (!text.empty())
    if (std::string name = normalized_name(text, where); !name.empty()) names.push_back(std::move(name));
  return names;
}

class ArchiveReader {
 public:
  ArchiveReader(const std::string& tar_path, ContentStore& content, const LeaseBlob& lease)
      : tar_path_(tar_path), content_(content), lease_(lease) {}

  std::vector<ArchiveImage> read() {
    if (!fs::exists(tar_path_)) throw Error(Errc::not_found, "image archive " + tar_path_ + " does not exist");
    scan();
    std::vector<ArchiveImage> images;
    bool oci = metadata_.count("index.json") != 0;
    bool docker = metadata_.count("manifest.json") != 0;
    if (!oci && !docker)
      throw Error(Errc::invalid_argument, "image archive " + tar_path_ +
                                              ": has neither index.json (OCI image layout) nor manifest.json "
                                              "(docker save); is it an image archive?");
    if (oci) add_oci_images(images);
    if (docker) add_docker_images(images);
    return images;
  }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    throw Error(Errc::invalid_argument, "image archive " + tar_path_ + ": " + why);
  }

  // One pass over the tar: metadata kept in memory, every other file streamed into the store.
  void scan() {
    std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
    if (!a) throw Error(Errc::resource_exhausted, "libarchive: out of memory");
    archive_read_support_filter_none(a.get());
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_filter_xz(a.get());
    archive_read_support_filter_bzip2(a.get());
    archive_read_support_format_tar(a.get());
    auto lib_error = [&] {
      const char* msg = archive_error_string(a.get());
      return std::string(msg != nullptr ? msg : "unknown libarchive error");
    };
    if (archive_read_open_filename(a.get(), tar_path_.c_str(), 1 << 20) != ARCHIVE_OK)
      bad("cannot read it as a tar: " + lib_error());
    for (;;) {
      archive_entry* entry = nullptr;
      int rc = archive_read_next_header(a.get(), &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) bad("corrupt tar: " + lib_error());
      const char* raw_name = archive_entry_pathname(entry);
      std::string name = clean_path(raw_name != nullptr ? raw_name : "");
      if (name.empty()) continue;
      if (const char* target = archive_entry_hardlink(entry); target != nullptr) {
        aliases_[name] = clean_path(target);
        continue;
      }
      if (archive_entry_filetype(entry) == AE_IFLNK) {
        const char* target = archive_entry_symlink(entry);
        std::string t = target != nullptr ? target : "";
        aliases_[name] = clean_path(t.starts_with("/") ? t : dir_of(name) + "/" + t);
        continue;
      }
      if (archive_entry_filetype(entry) != AE_IFREG) continue;
      int64_t size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : -1;
      auto read_chunks = [&](const std::function<void(const char*, size_t)>& sink) {
        char buf[1 << 16];
        for (;;) {
          la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
          if (n < 0) bad("cannot read entry " + name + ": " + lib_error());
          if (n == 0) break;
          sink(buf, static_cast<size_t>(n));
        }
      };
      if (is_metadata_file(name)) {
        std::string data;
        read_chunks([&](const char* p, size_t n) {
          if (data.size() + n > kMaxMetadataFile) bad(name + " is larger than " + std::to_string(kMaxMetadataFile) + " bytes");
          data.append(p, n);
        });
        metadata_[name] = std::move(data);
        continue;
      }
      std::string expected = digest_from_blob_path(name);
      if (!expected.empty()) {
        lease_(expected);
        if (auto have = content_.size(expected)) {  // already stored: the data is skipped unread
          files_[name] = {expected, static_cast<int64_t>(*have)};
          continue;
        }
      }
      auto writer = content_.writer(expected, size);
      try {
        read_chunks([&](const char* p, size_t n) { writer.write(p, n); });
        int64_t written = static_cast<int64_t>(writer.written());
        files_[name] = {writer.commit(lease_), written};
      } catch (const Error& e) {
        if (std::string(e.what()).starts_with("image archive")) throw;
        throw Error(e.code(), "image archive " + tar_path_ + ": entry " + name + ": " + e.what());
      }
    }
  }

  // The stored file an archive path names, following hard and symbolic links inside the archive.
  const StoredFile& file(const std::string& path, const std::string& referrer) const {
    std::string p = clean_path(path);
    for (int hop = 0; hop < kMaxLinkHops; ++hop) {
      if (auto it = files_.find(p); it != files_.end()) return it->second;
      auto alias = aliases_.find(p);
      if (alias == aliases_.end()) break;
      p = alias->second;
    }
    bad(referrer + " refers to \"" + path + "\", which is not a file in the archive");
  }

  void add_oci_images(std::vector<ArchiveImage>& images) {
    std::string where = tar_path_ + ": index.json";
    for (const auto& d : parse_index(metadata_.at("index.json"), "image archive " + where)) {
      if (!content_.contains(d.digest)) bad("index.json refers to blob " + d.digest + ", which is not in the archive");
      images.push_back({d.digest, d.media_type, "", names_from_annotations(d.annotations, where)});
    }
  }

  void add_docker_images(std::vector<ArchiveImage>& images) {
    json doc;
    try {
      doc = json::parse(metadata_.at("manifest.json"));
    } catch (const json::exception& e) {
      bad(std::string("manifest.json: malformed JSON: ") + e.what());
    }
    if (!doc.is_array()) bad("manifest.json is not a JSON array");
    for (size_t i = 0; i < doc.size(); ++i) {
      const json& e = doc[i];
      std::string where = "manifest.json entry " + std::to_string(i);
      if (!e.is_object() || !e.contains("Config") || !e["Config"].is_string() || !e.contains("Layers") ||
          !e["Layers"].is_array())
        bad(where + " lacks \"Config\" or \"Layers\"");
      const StoredFile& config = file(e["Config"].get<std::string>(), where);
      Descriptor config_desc{media_type::kOciConfig, config.digest, config.size, {}, {}, {}, {}};
      std::vector<Descriptor> layers;
      for (const auto& l : e["Layers"]) {
        if (!l.is_string()) bad(where + ": a layer path is not a string");
        const StoredFile& layer = file(l.get<std::string>(), where);
        layers.push_back({sniff_layer_type(content_.path(layer.digest)), layer.digest, layer.size, {}, {}, {}, {}});
      }
      // docker save has no manifest; an equivalent OCI manifest makes the image like any other.
      std::string manifest = make_manifest(config_desc, layers);
      std::string manifest_digest = sha256_digest(manifest);
      lease_(manifest_digest);
      content_.put(manifest, manifest_digest);
      ArchiveImage image{manifest_digest, media_type::kOciManifest, config.digest, {}};
      if (auto tags = e.find("RepoTags"); tags != e.end() && tags->is_array())
        for (const auto& t : *tags)
          if (t.is_string())
            if (std::string name = normalized_name(t.get<std::string>(), tar_path_ + ": " + where); !name.empty())
              image.names.push_back(std::move(name));
      images.push_back(std::move(image));
    }
  }

  const std::string& tar_path_;
  ContentStore& content_;
  const LeaseBlob& lease_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, StoredFile> files_;
  std::map<std::string, std::string> aliases_;
};

}  // namespace

std::vector<ArchiveImage> read_image_archive(const std::string& tar_path, ContentStore& content, const LeaseBlob& lease) {
  return ArchiveReader(tar_path, content, lease).read();
}

}  // namespace vpcri::runtime::image

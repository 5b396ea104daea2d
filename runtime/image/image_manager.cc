// The ImageManager facade: pull / import / find / remove over the content store, the snapshot
// store and the image records. One mutex guards the in-memory state (records, holds, leases);
// downloads and unpacks run outside it, deduplicated per blob and per layer by the stores.
//
// Garbage collection: a blob or snapshot is kept while a record references it or an operation in
// progress has leased it (a pull leases everything it is about to use before it checks what is
// already present). Everything else is deleted — after a removal, after every pull or import
// (also a failed one: a broken pull leaves nothing half-stored), and at start.
#include "runtime/image/image_manager.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>

#include "common/error.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "metrics/registry.h"
#include "runtime/image/archive_import.h"
#include "runtime/image/content_store.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_record.h"
#include "runtime/image/oci.h"
#include "runtime/image/parallel.h"
#include "runtime/image/snapshot_store.h"
#include "runtime/image/tree.h"

namespace vpcri::runtime::image {
namespace {

constexpr size_t kMaxConfigBytes = 8 << 20;
constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr size_t kParallelLayers = 3;  // containerd's default max_concurrent_downloads
constexpr auto kUsageMaxAge = std::chrono::seconds(60);

std::string digest_of_name(const std::string& repo_digest) {
  size_t at = repo_digest.rfind('@');
  return at == std::string::npos ? std::string() : repo_digest.substr(at + 1);
}

bool is_hex(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

struct Names {
  std::vector<std::string> tags, digests;
};

Names split_names(const std::vector<std::string>& names) {
  Names out;
  for (const auto& n : names) (n.find('@') != std::string::npos ? out.digests : out.tags).push_back(n);
  return out;
}

// An index or manifest document with the digest of its bytes.
struct Document {
  std::string digest, media_type, body;
};

}  // namespace

struct ImageManager::Impl {
  ManagerConfig config;
  ContentStore content;
  SnapshotStore snapshots;
  RecordStore record_files;
  registry::RegistryClient client;

  mutable std::mutex mu;  // guards everything below
  std::map<std::string, ImageRecord> records;  // by id
  std::map<std::string, std::string> raw_configs;  // by id
  std::map<std::string, std::set<std::string>> holders;  // image id -> containers
  std::map<std::string, int> blob_leases, snapshot_leases;
  uint64_t generation = 0;  // bumped whenever the store changes (invalidates the usage cache)

  mutable std::mutex usage_mu;
  mutable std::optional<FsUsage> usage_cache;
  mutable uint64_t usage_generation = 0;
  mutable std::chrono::steady_clock::time_point usage_time;

  // Blobs and snapshots an operation in progress uses: GC keeps them until it ends.
  class Lease {
   public:
    explicit Lease(Impl& impl) : impl_(impl) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      std::lock_guard lock(impl_.mu);
      for (const auto& b : blobs_) drop(impl_.blob_leases, b);
      for (const auto& s : snapshots_) drop(impl_.snapshot_leases, s);
    }
    void blob(const std::string& digest) {
      std::lock_guard lock(impl_.mu);
      ++impl_.blob_leases[digest];
      blobs_.push_back(digest);
    }
    void snapshot(const std::string& chain_id) {
      std::lock_guard lock(impl_.mu);
      ++impl_.snapshot_leases[chain_id];
      snapshots_.push_back(chain_id);
    }

   private:
    static void drop(std::map<std::string, int>& leases, const std::string& key) {
      if (auto it = leases.find(key); it != leases.end() && --it->second <= 0) leases.erase(it);
    }
    Impl& impl_;
    std::vector<std::string> blobs_, snapshots_;
  };

  explicit Impl(ManagerConfig c)
      : config(std::move(c)),
        content(checked_root(config.root)),
        snapshots(config.root),
        record_files(config.root),
        client(config.registry) {
    for (auto& [id, record] : record_files.load_all()) {
      try {
        std::vector<std::string> missing;
        if (!content.contains(id)) missing.push_back("config blob " + id);
        for (const auto& chain : record.chain_ids)
          if (!snapshots.contains(chain)) missing.push_back("snapshot " + chain);
        if (!missing.empty()) {
          log::error("dropping an image record whose content is gone; pull or import the image again",
                     {{"image", id}, {"names", join(record.repo_tags)}, {"missing", join(missing)}});
          record_files.erase(id);
          continue;
        }
        raw_configs[id] = content.read(id, kMaxConfigBytes);
        records.emplace(id, std::move(record));
      } catch (const Error& e) {  // one unreadable image must not keep the node from starting
        log::error("skipping an image that cannot be loaded", {{"image", id}, {"error", e.what()}});
      }
    }
    gc();
  }

  static const std::string& checked_root(const std::string& root) {
    if (root.empty()) throw Error(Errc::invalid_argument, "image store: no root directory configured");
    return root;
  }

  // The id `text` names: an id, a tag or digest reference, or a unique id prefix.
  std::optional<std::string> resolve_locked(const std::string& text) const {
    if (is_valid_digest(text)) return records.count(text) != 0 ? std::optional(text) : std::nullopt;
    if (text.size() == 64 && is_hex(text))
      return records.count("sha256:" + text) != 0 ? std::optional("sha256:" + text) : std::nullopt;
    try {
      Reference ref = parse_reference(text);
      bool by_digest = !ref.digest.empty();
      std::string name = by_digest ? ref.name() + "@" + ref.digest : ref.to_string();
      for (const auto& [id, r] : records) {
        const auto& names = by_digest ? r.repo_digests : r.repo_tags;
        if (std::find(names.begin(), names.end(), name) != names.end()) return id;
      }
    } catch (const Error&) {
      // Not a reference; it may still be an id prefix.
    }
    std::string prefix = text.starts_with("sha256:") ? text.substr(7) : text;
    if (!is_hex(prefix)) return std::nullopt;
    std::optional<std::string> found;
    for (const auto& [id, r] : records) {
      if (id.compare(7, prefix.size(), prefix) != 0) continue;
      if (found) return std::nullopt;  // ambiguous
      found = id;
    }
    return found;
  }

  Image to_image_locked(const ImageRecord& r) const {
    Image img;
    img.id = r.id;
    img.repo_tags = r.repo_tags;
    img.repo_digests = r.repo_digests;
    img.size = r.size;
    img.config = r.config;
    for (const auto& chain : r.chain_ids) img.layer_paths.push_back(snapshots.path(chain));
    if (auto it = raw_configs.find(r.id); it != raw_configs.end()) img.raw_config = it->second;
    return img;
  }

  // Stores the record of an installed image and gives it `names`, taking them from other images.
  // Records that lose names are written before the one that gains them: a crash in between
  // leaves a name on no image (a pull restores it), never on two.
  Image commit_record(ImageRecord record, const std::string& raw_config, const Names& names) {
    std::lock_guard lock(mu);
    auto updated = records;
    auto [it, inserted] = updated.try_emplace(record.id, record);
    // A pull of an image already present changes nothing: its record is not rewritten (each
    // write is a file and a directory fsync).
    std::string stored_before;
    if (!inserted) {  // same image (same config) again, maybe through another manifest
      stored_before = record_to_json(it->second);
      record.repo_tags = it->second.repo_tags;
      record.repo_digests = it->second.repo_digests;
      it->second = std::move(record);
    }
    const std::string& id = it->first;
    bool changed_any = false;
    for (const auto& changed : assign_names(updated, id, names.tags, names.digests)) {
      if (changed != id) record_files.save(updated.at(changed));
      changed_any = true;
    }
    if (inserted || record_to_json(updated.at(id)) != stored_before) {
      record_files.save(updated.at(id));
      changed_any = true;
    }
    records = std::move(updated);
    raw_configs[id] = raw_config;
    if (changed_any) ++generation;
    return to_image_locked(records.at(id));
  }

  // Fetches (through ensure_blob) and verifies config and layers, unpacks the layers and records
  // the image. `what` prefixes error messages.
  Image install(const std::string& what, const Document& manifest, const Names& names, Lease& lease,
                const std::function<void(const Descriptor&, const std::string& kind)>& ensure_blob) {
    ManifestDoc m = parse_manifest(manifest.body, what + ": manifest " + manifest.digest);
    lease.blob(m.config.digest);
    ensure_blob(m.config, "config");
    std::string raw_config = content.read(m.config.digest, kMaxConfigBytes);
    ParsedConfig parsed = parse_config(raw_config, what + ": image config " + m.config.digest);
    if (parsed.diff_ids.size() != m.layers.size())
      throw Error(Errc::invalid_argument, what + ": manifest " + manifest.digest + " lists " +
                                              std::to_string(m.layers.size()) + " layers but its config has " +
                                              std::to_string(parsed.diff_ids.size()) + " diff ids");
    if (parsed.os != config.platform_os || parsed.architecture != config.platform_arch)
      log::warn("image is for another platform", {{"image", what}, {"os", parsed.os}, {"arch", parsed.architecture}});
    std::vector<std::string> chains = chain_ids(parsed.diff_ids);
    for (size_t i = 0; i < m.layers.size(); ++i) {
      lease.blob(m.layers[i].digest);
      lease.snapshot(chains[i]);
    }
    std::atomic<uint64_t> unpacked_bytes{0};
    std::atomic<bool> unpacked_any{false};
    snapshot::UnpackLimits limits{config.max_layer_bytes, &unpacked_bytes, config.max_image_bytes};
    for_each_parallel(m.layers.size(), kParallelLayers, [&](size_t i) {
      const Descriptor& layer = m.layers[i];
      ensure_blob(layer, "layer");
      try {
        if (snapshots.ensure(chains[i], content.path(layer.digest), layer.digest, parsed.diff_ids[i], limits))
          unpacked_any = true;
      } catch (const Error& e) {
        throw Error(e.code(), what + ": " + e.what());
      }
    });
    // Crash tests: layers newly unpacked, no image record yet.
    if (unpacked_any) failpoint("image.unpacked");

    ImageRecord record;
    record.id = m.config.digest;
    record.manifest_digest = manifest.digest;
    record.manifest_media_type = manifest.media_type;
    record.size = manifest.body.size() + static_cast<uint64_t>(m.config.size);
    for (const auto& l : m.layers) {
      record.layers.push_back({l.digest, l.media_type, l.size});
      record.size += static_cast<uint64_t>(l.size);
    }
    record.diff_ids = parsed.diff_ids;
    record.chain_ids = chains;
    record.config = parsed.config;
    return commit_record(std::move(record), raw_config, names);
  }

  // The platform manifest of `top` (itself when it is a manifest); get(digest) loads a child.
  Document platform_manifest(const std::string& what, const Document& top,
                             const std::function<Document(const Descriptor&)>& get) const {
    if (classify_document(top.body, top.media_type, what + ": " + top.digest) == DocumentKind::manifest) {
      Document m = top;
      if (m.media_type.empty()) m.media_type = media_type::kOciManifest;
      return m;
    }
    auto entries = parse_index(top.body, what + ": index " + top.digest);
    const Descriptor& chosen = pick_platform(entries, config.platform_os, config.platform_arch, what);
    Document m = get(chosen);
    if (classify_document(m.body, m.media_type, what + ": " + m.digest) != DocumentKind::manifest)
      throw Error(Errc::invalid_argument, what + ": index entry " + chosen.digest + " for " + config.platform_os + "/" +
                                              config.platform_arch + " is not an image manifest");
    if (m.media_type.empty()) m.media_type = chosen.media_type.empty() ? media_type::kOciManifest : chosen.media_type;
    return m;
  }

  // Deletes blobs and snapshots that no record references and no operation has leased.
  void gc() {
    std::vector<std::string> detached;
    {
      std::lock_guard lock(mu);
      std::set<std::string> keep_blobs, keep_snapshots;
      for (const auto& [id, r] : records) {
        keep_blobs.insert(id);
        keep_blobs.insert(r.manifest_digest);
        for (const auto& l : r.layers) keep_blobs.insert(l.digest);
        for (const auto& d : r.repo_digests) keep_blobs.insert(digest_of_name(d));
        keep_snapshots.insert(r.chain_ids.begin(), r.chain_ids.end());
      }
      for (const auto& [digest, count] : blob_leases) keep_blobs.insert(digest);
      for (const auto& [chain, count] : snapshot_leases) keep_snapshots.insert(chain);
      bool changed = false;
      for (const auto& digest : content.list()) {
        if (keep_blobs.count(digest) != 0) continue;
        content.remove(digest);
        changed = true;
      }
      for (const auto& chain : snapshots.list()) {
        if (keep_snapshots.count(chain) != 0) continue;
        if (std::string path = snapshots.detach(chain); !path.empty()) detached.push_back(std::move(path));
        changed = true;
      }
      if (changed) ++generation;
    }
    for (const auto& path : detached) {  // big trees: deleted without holding the lock
      try {
        remove_tree(path);
      } catch (const std::exception& e) {
        log::warn("cannot delete an unused snapshot now; it is removed at the next start",
                  {{"path", path}, {"error", e.what()}});
      }
    }
  }

  // Runs an operation that stores content, then collects garbage whether it worked or not, so
  // a failed operation leaves nothing behind that no image uses.
  template <typename Fn>
  auto with_gc(Fn&& fn) -> decltype(fn()) {
    try {
      auto result = fn();
      gc();
      return result;
    } catch (...) {
      try {
        gc();
      } catch (const std::exception& e) {
        log::warn("garbage collection after a failed operation failed", {{"error", e.what()}});
      }
      throw;
    }
  }
};

ImageManager::ImageManager(ManagerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

ImageManager::~ImageManager() = default;

namespace {

// A pull or import frees megabytes of buffers (manifests, decompression, tar headers) that glibc
// would otherwise keep mapped for the life of the daemon: give them back once it is done.
void return_freed_memory() { ::malloc_trim(0); }

}  // namespace

Image ImageManager::pull(const std::string& text, const registry::Credentials& creds, const PullProgress& progress) {
  static auto& pulls = metrics::global().counter("vpcri_image_pulls_total", "Image pulls started.").with({});
  static auto& failures = metrics::global().counter(
      "vpcri_image_pull_failures_total",
      "Image pulls that failed, by cause (invalid_argument, not_found, unavailable, resource_exhausted, ...).",
      {"cause"});
  static auto& duration = metrics::global().histogram("vpcri_image_pull_duration_seconds",
                                                      "Image pull time, failed pulls included.", {},
                                                      {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}).with({});
  pulls.inc();
  auto start = std::chrono::steady_clock::now();
  try {
    Image image = pull_uncounted(text, creds, progress);
    duration.observe(metrics::seconds_since(start));
    return_freed_memory();
    return image;
  } catch (const Error& e) {
    duration.observe(metrics::seconds_since(start));
    failures.with({errc_name(e.code())}).inc();
    throw;
  } catch (...) {
    duration.observe(metrics::seconds_since(start));
    failures.with({"internal"}).inc();
    throw;
  }
}

Image ImageManager::pull_uncounted(const std::string& text, const registry::Credentials& creds,
                                   const PullProgress& progress) {
  Reference ref = parse_reference(text);
  Impl& d = *impl_;
  const std::string what = "pull " + ref.to_string();
  return d.with_gc([&] {
    Impl::Lease lease(d);
    std::mutex progress_mu;  // layers download in parallel; the callback sees one call at a time

    // A manifest by tag or digest; by digest it is read locally when already stored.
    auto fetch_document = [&](const std::string& reference, const std::string& expected_digest) {
      if (!expected_digest.empty()) {
        lease.blob(expected_digest);
        if (d.content.contains(expected_digest))
          return Document{expected_digest, "", d.content.read(expected_digest, kMaxManifestBytes)};
      }
      registry::Manifest m = d.client.get_manifest(ref.domain, ref.repository, reference, creds);
      std::string actual = sha256_digest(m.body);
      if (!expected_digest.empty() && actual != expected_digest)
        throw Error(Errc::invalid_argument, what + ": the registry answered " + expected_digest +
                                                " with a document whose digest is " + actual);
      lease.blob(actual);
      d.content.put(m.body, actual);
      return Document{actual, m.media_type, std::move(m.body)};
    };

    Document top = fetch_document(ref.digest.empty() ? ref.tag : ref.digest, ref.digest);
    Document manifest = d.platform_manifest(what, top, [&](const Descriptor& desc) {
      Document m = fetch_document(desc.digest, desc.digest);
      if (m.media_type.empty()) m.media_type = desc.media_type;
      return m;
    });

    auto ensure_blob = [&](const Descriptor& desc, const std::string&) {
      d.content.ensure(desc.digest, desc.size, [&](ContentWriter& w) {
        registry::Progress on_progress;
        if (progress)
          on_progress = [&](int64_t done, int64_t total) {
            std::lock_guard lock(progress_mu);
            progress(desc.digest, done, total);
          };
        d.client.get_blob(
            ref.domain, ref.repository, desc.digest, [&](const char* p, size_t n) { w.write(p, n); }, creds,
            on_progress);
      });
    };

    // Like containerd: "name:tag@digest" is recorded by digest only (the tag was not checked).
    Names names;
    if (ref.digest.empty()) names.tags.push_back(ref.to_string());
    names.digests.push_back(ref.name() + "@" + top.digest);
    Image image = d.install(what, manifest, names, lease, ensure_blob);
    log::info("pulled image", {{"ref", ref.to_string()}, {"id", image.id}, {"size", std::to_string(image.size)}});
    return image;
  });
}

std::vector<Image> ImageManager::import_archive(const std::string& tar_path) {
  Impl& d = *impl_;
  const std::string what = "import " + tar_path;
  std::vector<Image> images = d.with_gc([&] {
    Impl::Lease lease(d);
    auto found = read_image_archive(tar_path, d.content, [&](const std::string& digest) { lease.blob(digest); });

    auto local_document = [&](const Descriptor& desc) {
      if (!d.content.contains(desc.digest))
        throw Error(Errc::invalid_argument, what + ": manifest " + desc.digest + " for " + d.config.platform_os + "/" +
                                                d.config.platform_arch + " is not in the archive");
      return Document{desc.digest, desc.media_type, d.content.read(desc.digest, kMaxManifestBytes)};
    };
    auto ensure_local_blob = [&](const Descriptor& desc, const std::string& kind) {
      auto size = d.content.size(desc.digest);
      if (!size) throw Error(Errc::invalid_argument, what + ": " + kind + " blob " + desc.digest + " is not in the archive");
      if (static_cast<int64_t>(*size) != desc.size)
        throw Error(Errc::invalid_argument, what + ": " + kind + " blob " + desc.digest + " has " +
                                                std::to_string(*size) + " bytes, the manifest says " +
                                                std::to_string(desc.size));
    };

    std::vector<std::string> ids;
    for (const auto& entry : found) {
      Names names = split_names(entry.names);
      bool known = !entry.config_digest.empty() &&
                   std::find(ids.begin(), ids.end(), entry.config_digest) != ids.end();
      if (known) {  // a docker-save entry for an image the archive's index.json already gave us
        std::lock_guard lock(d.mu);
        auto updated = d.records;
        for (const auto& changed : assign_names(updated, entry.config_digest, names.tags, names.digests))
          d.record_files.save(updated.at(changed));
        d.records = std::move(updated);
        ++d.generation;
        continue;
      }
      Document top = local_document({entry.top_media_type, entry.top_digest, 0, {}, {}, {}, {}});
      Document manifest = d.platform_manifest(what, top, local_document);
      Image image = d.install(what, manifest, names, lease, ensure_local_blob);
      if (std::find(ids.begin(), ids.end(), image.id) == ids.end()) ids.push_back(image.id);
      log::info("imported image", {{"archive", tar_path}, {"id", image.id}, {"names", join(entry.names)}});
    }
    std::vector<Image> out;
    std::lock_guard lock(d.mu);
    for (const auto& id : ids) out.push_back(d.to_image_locked(d.records.at(id)));
    return out;
  });
  return_freed_memory();
  return images;
}

std::optional<Image> ImageManager::find(const std::string& ref) const {
  std::lock_guard lock(impl_->mu);
  auto id = impl_->resolve_locked(ref);
  if (!id) return std::nullopt;
  return impl_->to_image_locked(impl_->records.at(*id));
}

std::vector<Image> ImageManager::list() const {
  std::lock_guard lock(impl_->mu);
  std::vector<Image> out;
  for (const auto& [id, r] : impl_->records) out.push_back(impl_->to_image_locked(r));
  return out;
}

void ImageManager::remove(const std::string& ref) {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    auto id = d.resolve_locked(ref);
    if (!id) return;
    if (auto h = d.holders.find(*id); h != d.holders.end() && !h->second.empty()) {
      const ImageRecord& r = d.records.at(*id);
      std::string names = join(r.repo_tags);
      throw Error(Errc::failed_precondition,
                  "image " + *id + (names.empty() ? "" : " (" + names + ")") + " is in use by container(s) " +
                      join({h->second.begin(), h->second.end()}) + "; remove those containers first");
    }
    // The record goes first: a crash after it leaves only unreferenced content, collected at start.
    d.record_files.erase(*id);
    d.records.erase(*id);
    d.raw_configs.erase(*id);
    ++d.generation;
    log::info("removed image", {{"ref", ref}, {"id", *id}});
  }
  d.gc();
}

void ImageManager::hold(const std::string& image_id, const std::string& holder) {
  std::lock_guard lock(impl_->mu);
  if (impl_->records.count(image_id) == 0)
    throw Error(Errc::not_found, "image " + image_id + " is not in the image store; cannot pin it for " + holder);
  impl_->holders[image_id].insert(holder);
}

void ImageManager::release(const std::string& image_id, const std::string& holder) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->holders.find(image_id);
  if (it == impl_->holders.end()) return;
  it->second.erase(holder);
  if (it->second.empty()) impl_->holders.erase(it);
}

std::vector<std::string> ImageManager::rootfs_layers(const Image& image) {
  std::vector<std::string> layers = image.layer_paths;
  try {
    if (auto mountpoints = impl_->snapshots.mountpoint_layer(layers)) layers.push_back(*mountpoints);
  } catch (const Error& e) {
    // Only a shortcut: vpcri-init makes the mount points in the container's layer instead.
    log::warn("no mount point layer for an image", {{"image", image.id}, {"error", e.what()}});
  }
  return layers;
}

FsUsage ImageManager::usage() const {
  Impl& d = *impl_;
  uint64_t generation = 0;
  {
    std::lock_guard lock(d.mu);
    generation = d.generation;
  }
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(d.usage_mu);
    if (d.usage_cache && d.usage_generation == generation && now - d.usage_time < kUsageMaxAge) return *d.usage_cache;
  }
  // The walk runs without any lock: the tree may change meanwhile, which it tolerates.
  TreeUsage walked = tree_usage(d.config.root);
  FsUsage result{d.config.root, walked.bytes, walked.inodes};
  std::lock_guard lock(d.usage_mu);
  d.usage_cache = result;
  d.usage_generation = generation;
  d.usage_time = now;
  return result;
}

}  // namespace vpcri::runtime::image

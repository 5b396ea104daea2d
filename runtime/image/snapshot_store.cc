#include "runtime/image/snapshot_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/fd.h"
#include "common/fs.h"
#include "common/log.h"
#include "runtime/image/digest.h"
#include "runtime/image/layer_digest.h"
#include "runtime/image/mountpoint_layer.h"
#include "runtime/image/tree.h"
#include "runtime/snapshot/overlay.h"
#include "runtime/snapshot/unpack.h"

namespace vpcri::runtime::image {
namespace {

constexpr std::string_view kTempPrefix = "tmp-";
// Beside a snapshot's fs/: its image's mount point layer, or a file saying it needs none.
constexpr std::string_view kMountpointLayer = "mountpoints";
constexpr std::string_view kNoMountpointLayer = "mountpoints-none";

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void sync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) throw_errno("fsync " + dir);
}

}  // namespace

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  out.reserve(diff_ids.size());
  for (const auto& diff_id : diff_ids) {
    check_digest(diff_id, "layer diff id");
    out.push_back(out.empty() ? diff_id : sha256_digest(out.back() + " " + diff_id));
  }
  return out;
}

SnapshotStore::SnapshotStore(std::string root) : dir_(std::move(root) + "/snapshots") {
  fs::mkdir_p(dir_, 0700);
  for (const auto& name : list_dir(dir_)) {
    std::string p = dir_ + "/" + name;
    if (name.starts_with(kTempPrefix)) {
      log::info("removing an unfinished layer unpack or removal", {{"path", p}});
      remove_tree(p);
    } else if (is_valid_digest("sha256:" + name) && !is_dir(p + "/fs")) {
      log::warn("removing a snapshot without its fs directory", {{"path", p}});
      remove_tree(p);
    }
  }
}

std::string SnapshotStore::path(const std::string& chain_id) const {
  return dir_ + "/" + digest_hex(chain_id) + "/fs";
}

bool SnapshotStore::contains(const std::string& chain_id) const { return is_dir(path(chain_id)); }

bool SnapshotStore::ensure(const std::string& chain_id, const std::string& blob_path, const std::string& blob_digest,
                           const std::string& diff_id, const snapshot::UnpackLimits& limits) {
  check_digest(chain_id, "snapshot chain id");
  check_digest(diff_id, "layer diff id");
  return unpacks_.run(
      chain_id, [&] { return contains(chain_id); },
      [&] {
        if (blob_digest != diff_id) {
          std::string actual = uncompressed_digest(blob_path, limits.max_layer_bytes);
          if (actual != diff_id)
            throw Error(Errc::invalid_argument, "layer " + blob_digest + ": its uncompressed content hashes to " +
                                                    actual + ", but the image config lists diff id " + diff_id);
        }
        std::string temp = dir_ + "/" + std::string(kTempPrefix) + random_hex(8);
        if (::mkdir(temp.c_str(), 0700) != 0) throw_errno("mkdir " + temp);
        try {
          std::string fs_dir = temp + "/fs";
          if (::mkdir(fs_dir.c_str(), 0755) != 0) throw_errno("mkdir " + fs_dir);
          snapshot::unpack_layer(blob_path, fs_dir, limits);
          // The rename is what makes the snapshot trusted: the files must be on disk before it.
          UniqueFd fd(::open(fs_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
          if (!fd || ::syncfs(fd.get()) != 0) throw_errno("syncfs " + fs_dir);
          std::string final_dir = dir_ + "/" + digest_hex(chain_id);
          if (::rename(temp.c_str(), final_dir.c_str()) != 0) throw_errno("rename " + temp + " to " + final_dir);
        } catch (...) {
          try {
            remove_tree(temp);
          } catch (const std::exception& e) {
            log::warn("cannot remove a failed unpack (removed at next start)", {{"path", temp}, {"error", e.what()}});
          }
          throw;
        }
        sync_dir(dir_);
      });
}

std::optional<std::string> SnapshotStore::mountpoint_layer(const std::vector<std::string>& layer_paths) {
  // No room for one more layer: the container makes its mount points itself.
  if (layer_paths.empty() || layer_paths.size() >= snapshot::kMaxOverlayLayers) return std::nullopt;
  const std::string& top = layer_paths.back();
  const std::string prefix = dir_ + "/";
  if (!top.starts_with(prefix) || !top.ends_with("/fs")) {
    throw Error(Errc::invalid_argument, "mount point layer: " + top + " is not a snapshot of " + dir_);
  }
  const std::string snapshot = top.substr(0, top.size() - 3);
  const std::string layer = snapshot + "/" + std::string(kMountpointLayer);
  const std::string none = snapshot + "/" + std::string(kNoMountpointLayer);
  if (is_dir(layer)) return layer;
  if (fs::exists(none)) return std::nullopt;

  UniqueFd view = snapshot::open_layers_view(layer_paths);
  if (!view) return std::nullopt;
  std::vector<MountpointEntry> entries = missing_mountpoints(view.get());
  if (entries.empty()) {
    fs::write_file_atomic(none, "");
    return std::nullopt;
  }
  // Made aside and renamed into place whole; tmp-* is removed at the next start.
  std::string temp = dir_ + "/" + std::string(kTempPrefix) + random_hex(8);
  fs::mkdir_p(temp, 0755);
  try {
    write_mountpoint_layer(view.get(), entries, temp);
    if (::rename(temp.c_str(), layer.c_str()) != 0) {
      if (errno != EEXIST && errno != ENOTEMPTY) throw_errno("rename " + temp + " to " + layer);
      remove_tree(temp);  // a concurrent create made the same layer first
    }
    sync_dir(snapshot);
  } catch (...) {
    try {
      if (is_dir(temp)) remove_tree(temp);
    } catch (const Error& e) {
      log::warn("could not remove an unfinished mount point layer", {{"path", temp}, {"error", e.what()}});
    }
    throw;
  }
  return layer;
}

std::vector<std::string> SnapshotStore::list() const {
  std::vector<std::string> out;
  for (const auto& name : list_dir(dir_)) {
    std::string chain_id = "sha256:" + name;
    if (is_valid_digest(chain_id)) out.push_back(std::move(chain_id));
  }
  return out;
}

std::string SnapshotStore::detach(const std::string& chain_id) {
  std::string p = dir_ + "/" + digest_hex(chain_id);
  std::string doomed = dir_ + "/" + std::string(kTempPrefix) + random_hex(8);
  // Renamed away first: a crash mid-delete must not leave a half-deleted tree that looks valid.
  if (::rename(p.c_str(), doomed.c_str()) != 0) {
    if (errno == ENOENT) return {};
    throw_errno("rename " + p + " to " + doomed);
  }
  return doomed;
}

void SnapshotStore::remove(const std::string& chain_id) {
  if (std::string doomed = detach(chain_id); !doomed.empty()) remove_tree(doomed);
}

}  // namespace vpcri::runtime::image

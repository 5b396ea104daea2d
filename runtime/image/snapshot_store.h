// Unpacked layers: <root>/snapshots/<chain id hex>/fs, one directory per layer, used as overlay
// lower dirs. A layer is unpacked into <root>/snapshots/tmp-<random> and renamed into place only
// when complete and synced, so a crash mid-unpack leaves nothing trusted (tmp-* is removed at start).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/image/single_flight.h"
#include "runtime/snapshot/unpack.h"

namespace vpcri::runtime::image {

// OCI image spec: chainid(L0) = diffid(L0); chainid(Ln) = sha256(chainid(Ln-1) + " " + diffid(Ln)).
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

class SnapshotStore {
 public:
  // Creates the directory; removes unfinished unpacks and removals of an earlier run.
  explicit SnapshotStore(std::string root);

  std::string path(const std::string& chain_id) const;  // the layer's unpacked tree
  bool contains(const std::string& chain_id) const;

  // Unpacks the layer blob at `blob_path` as snapshot `chain_id` unless it exists; waits for a
  // concurrent unpack of the same snapshot instead of repeating it. First checks that the
  // decompressed blob hashes to `diff_id` (skipped when blob_digest == diff_id: an uncompressed
  // blob was verified when stored). Throws Error(invalid_argument) on a mismatch, leaving nothing;
  // likewise resource_exhausted when the layer passes a cap of `limits`.
  // Returns true if this call unpacked.
  bool ensure(const std::string& chain_id, const std::string& blob_path, const std::string& blob_digest,
              const std::string& diff_id, const snapshot::UnpackLimits& limits = {});

  // The layer of mount points (mountpoint_layer.h) for the image whose unpacked layers are
  // `layer_paths` (this store's paths, lowest first): <snapshot of the top layer>/mountpoints,
  // made on first use; nullopt when the image has every mount point or the kernel cannot show
  // the merged image (then nothing is remembered). Throws vpcri::Error.
  std::optional<std::string> mountpoint_layer(const std::vector<std::string>& layer_paths);

  std::vector<std::string> list() const;  // chain ids
  void remove(const std::string& chain_id);  // absent snapshots are ignored
  // Takes a snapshot out of the store at once (a rename) and returns the path of the detached
  // tree for the caller to remove_tree() later (at the latest, the next start removes it);
  // "" when absent.
  std::string detach(const std::string& chain_id);

 private:
  std::string dir_;
  SingleFlight unpacks_;
};

}  // namespace vpcri::runtime::image

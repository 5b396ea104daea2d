// Image records: what the node knows about each image, one JSON file per image id under
// <root>/images/<id hex>.json, replaced atomically. Also the naming rule: a tag or digest name
// belongs to at most one image, so pulling a moved tag takes it away from the old image.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/image/image_manager.h"

namespace vpcri::runtime::image {

struct LayerRecord {
  std::string digest;  // of the blob as stored (compressed or not)
  std::string media_type;
  int64_t size = 0;
};

struct ImageRecord {
  std::string id;  // "sha256:<hex>" of the config, which is also its config blob digest
  std::vector<std::string> repo_tags;     // normalized "domain/repo:tag"
  std::vector<std::string> repo_digests;  // normalized "domain/repo@sha256:..." (index or manifest)
  std::string manifest_digest;            // the platform manifest
  std::string manifest_media_type;
  std::vector<LayerRecord> layers;        // lowest first
  std::vector<std::string> diff_ids;
  std::vector<std::string> chain_ids;
  uint64_t size = 0;
  ImageConfig config;
};

std::string record_to_json(const ImageRecord& record);
// Error(invalid_argument) naming `what` when the document is not a consistent record.
ImageRecord record_from_json(const std::string& text, const std::string& what);

class RecordStore {
 public:
  explicit RecordStore(std::string root);  // creates <root>/images
  // Every readable record by id; damaged files are logged and skipped (left in place).
  std::map<std::string, ImageRecord> load_all() const;
  void save(const ImageRecord& record);
  void erase(const std::string& id);  // absent records are ignored

 private:
  std::string dir_;
};

// Gives `tags` and `digests` to image `id` in `records` (which must hold it), taking each away
// from any other image that had it. Returns the ids whose records changed (to be saved).
std::set<std::string> assign_names(std::map<std::string, ImageRecord>& records, const std::string& id,
                                   const std::vector<std::string>& tags, const std::vector<std::string>& digests);

}  // namespace vpcri::runtime::image

#include "runtime/image/image_record.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "runtime/image/digest.h"
#include "runtime/image/tree.h"

namespace vpcri::runtime::image {
namespace {

using json = nlohmann::json;
constexpr int kFormatVersion = 1;

[[noreturn]] void bad(const std::string& what, const std::string& why) {
  throw Error(Errc::invalid_argument, "image record " + what + ": " + why);
}

template <typename T>
T field(const json& obj, const char* key, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end()) bad(what, std::string("missing field \"") + key + "\"");
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    bad(what, std::string("field \"") + key + "\" has the wrong type");
  }
}

bool add_unique(std::vector<std::string>& names, const std::string& name) {
  if (std::find(names.begin(), names.end(), name) != names.end()) return false;
  names.push_back(name);
  return true;
}

bool erase_name(std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) return false;
  names.erase(it);
  return true;
}

}  // namespace

std::string record_to_json(const ImageRecord& r) {
  json layers = json::array();
  for (const auto& l : r.layers) layers.push_back({{"digest", l.digest}, {"media_type", l.media_type}, {"size", l.size}});
  const ImageConfig& c = r.config;
  json config = {{"user", c.user},           {"env", c.env},     {"entrypoint", c.entrypoint},
                 {"cmd", c.cmd},             {"working_dir", c.working_dir},
                 {"labels", c.labels},       {"stop_signal", c.stop_signal},
                 {"volumes", c.volumes}};
  json doc = {{"version", kFormatVersion},
              {"id", r.id},
              {"repo_tags", r.repo_tags},
              {"repo_digests", r.repo_digests},
              {"manifest_digest", r.manifest_digest},
              {"manifest_media_type", r.manifest_media_type},
              {"config_digest", r.id},
              {"layers", layers},
              {"diff_ids", r.diff_ids},
              {"chain_ids", r.chain_ids},
              {"size", r.size},
              {"config", config}};
  return doc.dump(2) + "\n";
}

ImageRecord record_from_json(const std::string& text, const std::string& what) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    bad(what, std::string("malformed JSON: ") + e.what());
  }
  if (!doc.is_object()) bad(what, "not a JSON object");
  if (field<int>(doc, "version", what) != kFormatVersion) bad(what, "unknown format version");
  ImageRecord r;
  r.id = field<std::string>(doc, "id", what);
  check_digest(r.id, "image record " + what + ": id");
  if (field<std::string>(doc, "config_digest", what) != r.id) bad(what, "config_digest differs from id");
  r.repo_tags = field<std::vector<std::string>>(doc, "repo_tags", what);
  r.repo_digests = field<std::vector<std::string>>(doc, "repo_digests", what);
  r.manifest_digest = field<std::string>(doc, "manifest_digest", what);
  check_digest(r.manifest_digest, "image record " + what + ": manifest_digest");
  r.manifest_media_type = field<std::string>(doc, "manifest_media_type", what);
  for (const auto& l : field<json>(doc, "layers", what)) {
    LayerRecord lr;
    lr.digest = field<std::string>(l, "digest", what);
    check_digest(lr.digest, "image record " + what + ": layer digest");
    lr.media_type = field<std::string>(l, "media_type", what);
    lr.size = field<int64_t>(l, "size", what);
    r.layers.push_back(std::move(lr));
  }
  r.diff_ids = field<std::vector<std::string>>(doc, "diff_ids", what);
  r.chain_ids = field<std::vector<std::string>>(doc, "chain_ids", what);
  if (r.diff_ids.size() != r.layers.size() || r.chain_ids.size() != r.layers.size())
    bad(what, "layers, diff_ids and chain_ids differ in length");
  for (const auto& d : r.diff_ids) check_digest(d, "image record " + what + ": diff id");
  for (const auto& d : r.chain_ids) check_digest(d, "image record " + what + ": chain id");
  r.size = field<uint64_t>(doc, "size", what);
  json c = field<json>(doc, "config", what);
  if (!c.is_object()) bad(what, "field \"config\" is not an object");
  r.config.user = field<std::string>(c, "user", what);
  r.config.env = field<std::vector<std::string>>(c, "env", what);
  r.config.entrypoint = field<std::vector<std::string>>(c, "entrypoint", what);
  r.config.cmd = field<std::vector<std::string>>(c, "cmd", what);
  r.config.working_dir = field<std::string>(c, "working_dir", what);
  r.config.labels = field<std::map<std::string, std::string>>(c, "labels", what);
  r.config.stop_signal = field<std::string>(c, "stop_signal", what);
  r.config.volumes = field<std::vector<std::string>>(c, "volumes", what);
  return r;
}

RecordStore::RecordStore(std::string root) : dir_(std::move(root) + "/images") { fs::mkdir_p(dir_, 0700); }

std::map<std::string, ImageRecord> RecordStore::load_all() const {
  std::map<std::string, ImageRecord> out;
  for (const auto& name : list_dir(dir_)) {
    std::string path = dir_ + "/" + name;
    if (name.find(".tmp.") != std::string::npos) {  // write_file_atomic's temp file, left by a crash
      ::unlink(path.c_str());
      continue;
    }
    if (!name.ends_with(".json")) continue;
    try {
      ImageRecord r = record_from_json(fs::read_file(path), path);
      if (name != digest_hex(r.id) + ".json") bad(path, "file name does not match the image id " + r.id);
      out.emplace(r.id, std::move(r));
    } catch (const Error& e) {
      log::error("skipping a damaged image record", {{"path", path}, {"error", e.what()}});
    }
  }
  return out;
}

void RecordStore::save(const ImageRecord& record) {
  fs::write_file_atomic(dir_ + "/" + digest_hex(record.id) + ".json", record_to_json(record), 0600);
}

void RecordStore::erase(const std::string& id) {
  std::string path = dir_ + "/" + digest_hex(id) + ".json";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove image record " + path);
}

std::set<std::string> assign_names(std::map<std::string, ImageRecord>& records, const std::string& id,
                                   const std::vector<std::string>& tags, const std::vector<std::string>& digests) {
  std::set<std::string> changed;
  auto target = records.find(id);
  if (target == records.end()) throw Error(Errc::internal, "assign_names: no image record " + id);
  for (auto& [other_id, other] : records) {
    if (other_id == id) continue;
    bool moved = false;
    for (const auto& t : tags) moved |= erase_name(other.repo_tags, t);
    for (const auto& d : digests) moved |= erase_name(other.repo_digests, d);
    if (moved) changed.insert(other_id);
  }
  bool added = false;
  for (const auto& t : tags) added |= add_unique(target->second.repo_tags, t);
  for (const auto& d : digests) added |= add_unique(target->second.repo_digests, d);
  if (added) changed.insert(id);
  return changed;
}

}  // namespace vpcri::runtime::image

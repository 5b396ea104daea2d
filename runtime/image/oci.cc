#include "runtime/image/oci.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "runtime/image/digest.h"

namespace vpcri::runtime::image {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& what, const std::string& why) {
  throw Error(Errc::invalid_argument, what + ": " + why);
}

json parse_json(const std::string& body, const std::string& what) {
  try {
    json doc = json::parse(body);
    if (!doc.is_object()) bad(what, "not a JSON object");
    return doc;
  } catch (const json::exception& e) {
    bad(what, std::string("malformed JSON: ") + e.what());
  }
}

// Optional string field: absent or null gives "".
std::string opt_string(const json& obj, const char* key, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string()) bad(what, std::string("field \"") + key + "\" is not a string");
  return it->get<std::string>();
}

std::vector<std::string> opt_strings(const json& obj, const char* key, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_array()) bad(what, std::string("field \"") + key + "\" is not an array of strings");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) bad(what, std::string("field \"") + key + "\" is not an array of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Descriptor parse_descriptor(const json& d, const std::string& what) {
  if (!d.is_object()) bad(what, "a descriptor is not a JSON object");
  Descriptor out;
  out.media_type = opt_string(d, "mediaType", what);
  out.digest = opt_string(d, "digest", what);
  check_digest(out.digest, what + ": descriptor");
  auto size = d.find("size");
  if (size == d.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
    bad(what, "descriptor " + out.digest + " has no valid \"size\"");
  out.size = size->get<int64_t>();
  if (auto ann = d.find("annotations"); ann != d.end() && ann->is_object())
    for (const auto& [k, v] : ann->items())
      if (v.is_string()) out.annotations[k] = v.get<std::string>();
  if (auto p = d.find("platform"); p != d.end() && p->is_object()) {
    out.os = opt_string(*p, "os", what);
    out.architecture = opt_string(*p, "architecture", what);
    out.variant = opt_string(*p, "variant", what);
  }
  return out;
}

bool is_index_type(const std::string& mt) { return mt == media_type::kOciIndex || mt == media_type::kDockerList; }
bool is_manifest_type(const std::string& mt) {
  return mt == media_type::kOciManifest || mt == media_type::kDockerManifest;
}

bool is_layer_type(const std::string& mt) {
  static const char* const kLayerTypes[] = {
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      "application/vnd.docker.image.rootfs.diff.tar",
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
  };
  for (const char* t : kLayerTypes)
    if (mt == t) return true;
  return false;
}

}  // namespace

DocumentKind classify_document(const std::string& body, const std::string& content_type, const std::string& what) {
  json doc = parse_json(body, what);
  std::string mt = opt_string(doc, "mediaType", what);
  if (mt.empty()) mt = content_type.substr(0, content_type.find(';'));
  if (is_index_type(mt)) return DocumentKind::index;
  if (is_manifest_type(mt)) return DocumentKind::manifest;
  if (auto v = doc.find("schemaVersion"); v != doc.end() && *v == 1)
    bad(what, "Docker schema 1 manifests are not supported (deprecated since 2017); push the image again with a current tool");
  // Older OCI documents may carry neither a mediaType field nor a useful Content-Type.
  if (mt.empty() || mt == "application/json" || mt == "application/octet-stream") {
    if (doc.contains("manifests")) return DocumentKind::index;
    if (doc.contains("config") && doc.contains("layers")) return DocumentKind::manifest;
  }
  bad(what, "unsupported manifest media type \"" + mt + "\"");
}

std::vector<Descriptor> parse_index(const std::string& body, const std::string& what) {
  json doc = parse_json(body, what);
  auto manifests = doc.find("manifests");
  if (manifests == doc.end() || !manifests->is_array()) bad(what, "the index has no \"manifests\" array");
  std::vector<Descriptor> out;
  for (const auto& d : *manifests) out.push_back(parse_descriptor(d, what));
  return out;
}

ManifestDoc parse_manifest(const std::string& body, const std::string& what) {
  json doc = parse_json(body, what);
  if (auto v = doc.find("schemaVersion"); v == doc.end() || *v != 2)
    bad(what, "not a schema version 2 image manifest");
  auto config = doc.find("config");
  if (config == doc.end()) bad(what, "the manifest has no \"config\"");
  ManifestDoc out;
  out.config = parse_descriptor(*config, what);
  const std::string& cmt = out.config.media_type;
  if (!cmt.empty() && cmt != media_type::kOciConfig && cmt != media_type::kDockerConfig)
    bad(what, "config media type \"" + cmt + "\" is not a container image config (an OCI artifact, not an image?)");
  auto layers = doc.find("layers");
  if (layers == doc.end() || !layers->is_array()) bad(what, "the manifest has no \"layers\" array");
  for (const auto& l : *layers) {
    Descriptor d = parse_descriptor(l, what);
    if (!is_layer_type(d.media_type))
      bad(what, "layer " + d.digest + " has unsupported media type \"" + d.media_type + "\"");
    out.layers.push_back(std::move(d));
  }
  return out;
}

ParsedConfig parse_config(const std::string& body, const std::string& what) {
  json doc = parse_json(body, what);
  ParsedConfig out;
  out.os = opt_string(doc, "os", what);
  out.architecture = opt_string(doc, "architecture", what);
  out.variant = opt_string(doc, "variant", what);
  if (auto c = doc.find("config"); c != doc.end() && !c->is_null()) {
    if (!c->is_object()) bad(what, "field \"config\" is not an object");
    ImageConfig& ic = out.config;
    ic.user = opt_string(*c, "User", what);
    ic.env = opt_strings(*c, "Env", what);
    ic.entrypoint = opt_strings(*c, "Entrypoint", what);
    ic.cmd = opt_strings(*c, "Cmd", what);
    ic.working_dir = opt_string(*c, "WorkingDir", what);
    ic.stop_signal = opt_string(*c, "StopSignal", what);
    if (auto l = c->find("Labels"); l != c->end() && !l->is_null()) {
      if (!l->is_object()) bad(what, "field \"Labels\" is not an object");
      for (const auto& [k, v] : l->items()) {
        if (!v.is_string()) bad(what, "label \"" + k + "\" is not a string");
        ic.labels[k] = v.get<std::string>();
      }
    }
    if (auto v = c->find("Volumes"); v != c->end() && !v->is_null()) {
      if (!v->is_object()) bad(what, "field \"Volumes\" is not an object");
      for (const auto& item : v->items()) ic.volumes.push_back(item.key());
    }
  }
  auto rootfs = doc.find("rootfs");
  if (rootfs == doc.end() || !rootfs->is_object()) bad(what, "the image config has no \"rootfs\"");
  out.diff_ids = opt_strings(*rootfs, "diff_ids", what);
  for (const auto& d : out.diff_ids) check_digest(d, what + ": rootfs.diff_ids");
  return out;
}

const Descriptor& pick_platform(const std::vector<Descriptor>& entries, const std::string& os, const std::string& arch,
                                const std::string& what) {
  for (const auto& e : entries)
    if (e.os == os && e.architecture == arch && is_manifest_type(e.media_type.empty() ? media_type::kOciManifest : e.media_type))
      return e;
  std::string available;
  for (const auto& e : entries) {
    if (e.os.empty() || e.os == "unknown") continue;  // attestations and other non-image entries
    if (!available.empty()) available += ", ";
    available += e.os + "/" + e.architecture + (e.variant.empty() ? "" : "/" + e.variant);
  }
  throw Error(Errc::not_found, what + ": no image for platform " + os + "/" + arch +
                                   "; available: " + (available.empty() ? "none" : available));
}

std::string make_manifest(const Descriptor& config, const std::vector<Descriptor>& layers) {
  auto desc = [](const Descriptor& d) {
    return json{{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  };
  json doc = {{"schemaVersion", 2}, {"mediaType", media_type::kOciManifest}, {"config", desc(config)}};
  doc["layers"] = json::array();
  for (const auto& l : layers) doc["layers"].push_back(desc(l));
  return doc.dump();
}

}  // namespace vpcri::runtime::image

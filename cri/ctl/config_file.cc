#include "cri/ctl/config_file.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/fs.h"

namespace vpcri::ctl {
namespace {

namespace pb = google::protobuf;

// YAML to JSON guided by the message's schema, as crictl's YAML loading is: a scalar becomes
// the JSON type its field expects, so `name: 123` stays a string and `privileged: true` a bool.
class YamlToJson {
 public:
  explicit YamlToJson(std::string file) : file_(std::move(file)) {}

  nlohmann::json message(const YAML::Node& node, const pb::Descriptor* type, const std::string& path) const {
    nlohmann::json out = nlohmann::json::object();
    if (node.IsNull()) return out;
    if (!node.IsMap()) fail(node, path, "expected a mapping (" + type->name() + ")");
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      const pb::FieldDescriptor* field = type->FindFieldByName(key);
      if (!field) field = type->FindFieldByCamelcaseName(key);
      const std::string field_path = path.empty() ? key : path + "." + key;
      if (!field) fail(it->first, field_path, "unknown field in " + type->name());
      if (it->second.IsNull()) continue;
      out[field->name()] = value(it->second, field, field_path);
    }
    return out;
  }

 private:
  nlohmann::json value(const YAML::Node& node, const pb::FieldDescriptor* field, const std::string& path) const {
    if (field->is_map()) {
      if (!node.IsMap()) fail(node, path, "expected a mapping");
      nlohmann::json out = nlohmann::json::object();
      const pb::FieldDescriptor* value_field = field->message_type()->map_value();
      for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string key = it->first.Scalar();
        out[key] = single(it->second, value_field, path + "." + key);
      }
      return out;
    }
    if (field->is_repeated()) {
      if (!node.IsSequence()) fail(node, path, "expected a list");
      nlohmann::json out = nlohmann::json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        out.push_back(single(node[i], field, path + "[" + std::to_string(i) + "]"));
      }
      return out;
    }
    return single(node, field, path);
  }

  nlohmann::json single(const YAML::Node& node, const pb::FieldDescriptor* field, const std::string& path) const {
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) return message(node, field->message_type(), path);
    if (!node.IsScalar()) fail(node, path, "expected a single value");
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_BOOL) {
      bool b = false;
      if (!YAML::convert<bool>::decode(node, b)) fail(node, path, "expected true or false");
      return b;
    }
    // Numbers stay strings: protobuf's JSON parser accepts quoted numbers and checks their range.
    return node.Scalar();
  }

  [[noreturn]] void fail(const YAML::Node& at, const std::string& path, const std::string& problem) const {
    const YAML::Mark m = at.Mark();
    throw std::runtime_error(file_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " +
                             (path.empty() ? "" : path + ": ") + problem);
  }

  std::string file_;
};

bool is_json(const std::string& text, const std::string& file) {
  if (file.size() >= 5 && file.compare(file.size() - 5, 5, ".json") == 0) return true;
  auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && text[first] == '{';
}

}  // namespace

void parse_config(const std::string& text, const std::string& file, pb::Message* message) {
  std::string json = text;
  if (!is_json(text, file)) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw std::runtime_error(file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                               ": " + e.msg);
    }
    json = YamlToJson(file).message(root, message->GetDescriptor(), "").dump();
  }
  auto status = pb::util::JsonStringToMessage(json, message);
  if (!status.ok()) throw std::runtime_error(file + ": " + std::string(status.message()));
}

void load_config(const std::string& file, pb::Message* message) { parse_config(fs::read_file(file), file, message); }

}  // namespace vpcri::ctl

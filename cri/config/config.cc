#include "cri/config/config.h"

#include <sys/un.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "common/fs.h"

namespace vpcri::cri {
namespace {

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Scalar: return "\"" + n.Scalar() + "\"";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "an undefined value";
  }
}

// Reads one YAML mapping, remembering which keys were consumed so that unknown ones (typos)
// are reported instead of silently ignored.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string file, std::string path)
      : node_(node), file_(std::move(file)), path_(std::move(path)) {
    std::set<std::string> seen;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const YAML::Node& key = it->first;
      if (!key.IsScalar()) fail(key, path_.empty() ? "<top>" : path_, "keys must be plain names");
      if (!seen.insert(key.Scalar()).second) fail(key, key_path(key.Scalar()), "duplicate key");
    }
  }

  // Calls `apply` with the value node if the key is present.
  void with(const std::string& key, const std::function<void(const YAML::Node&, const std::string&)>& apply) {
    known_.insert(key);
    const YAML::Node value = node_[key];
    if (value) apply(value, key_path(key));
  }

  void string(const std::string& key, std::string& target,
              const std::function<std::string(const std::string&)>& check = nullptr) {
    with(key, [&](const YAML::Node& v, const std::string& kp) {
      if (!v.IsScalar()) fail(v, kp, "expected a string, got " + describe(v));
      if (check) {
        if (std::string problem = check(v.Scalar()); !problem.empty()) fail(v, kp, problem);
      }
      target = v.Scalar();
    });
  }

  template <typename T>
  void one_of(const std::string& key, T& target, std::initializer_list<std::pair<const char*, T>> choices) {
    with(key, [&](const YAML::Node& v, const std::string& kp) {
      std::string names;
      for (const auto& [name, value] : choices) {
        if (v.IsScalar() && v.Scalar() == name) {
          target = value;
          return;
        }
        names += names.empty() ? name : std::string(", ") + name;
      }
      fail(v, kp, "expected one of " + names + ", got " + describe(v));
    });
  }

  void boolean(const std::string& key, bool& target) {
    with(key, [&](const YAML::Node& v, const std::string& kp) {
      if (v.IsScalar() && (v.Scalar() == "true" || v.Scalar() == "false")) {
        target = v.Scalar() == "true";
        return;
      }
      fail(v, kp, "expected true or false, got " + describe(v));
    });
  }

  void string_list(const std::string& key, std::vector<std::string>& target,
                   const std::function<std::string(const std::string&)>& check = nullptr) {
    with(key, [&](const YAML::Node& v, const std::string& kp) {
      if (!v.IsSequence()) fail(v, kp, "expected a list of strings, got " + describe(v));
      std::vector<std::string> out;
      for (size_t i = 0; i < v.size(); ++i) {
        const YAML::Node item = v[i];
        std::string item_path = kp + "[" + std::to_string(i) + "]";
        if (!item.IsScalar()) fail(item, item_path, "expected a string, got " + describe(item));
        if (check) {
          if (std::string problem = check(item.Scalar()); !problem.empty()) fail(item, item_path, problem);
        }
        out.push_back(item.Scalar());
      }
      target = std::move(out);
    });
  }

  // Reports the first key that no reader asked for.
  void finish() const {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string& name = it->first.Scalar();
      if (!known_.count(name)) {
        std::string known;
        for (const auto& k : known_) known += known.empty() ? k : ", " + k;
        fail(it->first, key_path(name), "unknown key (known keys here: " + known + ")");
      }
    }
  }

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key_path, const std::string& problem) const {
    const YAML::Mark m = at.Mark();
    throw ConfigError(file_, m.line + 1, m.column + 1, key_path, problem);
  }

 private:
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  const YAML::Node& node_;
  std::string file_;
  std::string path_;
  std::set<std::string> known_;
};

std::string check_absolute_path(const std::string& value) {
  if (value.empty() || value[0] != '/') return "expected an absolute path, got \"" + value + "\"";
  if (value.find('\0') != std::string::npos) return "path contains a NUL byte";
  return {};
}

std::string check_url(const std::string& value) {
  for (const char* scheme : {"http://", "https://"}) {
    if (value.rfind(scheme, 0) == 0) {
      std::string rest = value.substr(std::string(scheme).size());
      if (rest.empty() || rest[0] == '/') return "URL \"" + value + "\" has no host";
      return {};
    }
  }
  return "expected an http:// or https:// URL, got \"" + value + "\"";
}

std::string check_registry_host(const std::string& value) {
  if (value.empty()) return "registry host is empty";
  for (char c : value) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_' ||
          c == '[' || c == ']')) {
      return "registry host \"" + value + "\" may only hold a host name and an optional :port (no scheme or path)";
    }
  }
  return {};
}

std::string check_platform(const std::string& value) {
  auto slash = value.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == value.size()) {
    return "expected os/architecture[/variant] such as linux/amd64, got \"" + value + "\"";
  }
  return {};
}

std::string check_socket_path(const std::string& value) {
  if (auto problem = check_absolute_path(value); !problem.empty()) return problem;
  if (value.size() >= sizeof(sockaddr_un::sun_path)) {
    return "socket path is " + std::to_string(value.size()) + " bytes; a unix socket path must be shorter than " +
           std::to_string(sizeof(sockaddr_un::sun_path));
  }
  return {};
}

}  // namespace

ConfigError::ConfigError(const std::string& file, int line, int column, const std::string& key_path,
                         const std::string& problem)
    : Error(Errc::invalid_argument, file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                                        (key_path.empty() ? "" : key_path + ": ") + problem) {}

Config parse_config(std::string_view yaml, const std::string& file) {
  Config config;
  config.source = file;
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw ConfigError(file, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax error: " + e.msg);
  }
  if (doc.IsNull()) return config;  // an empty file means all defaults
  if (!doc.IsMap()) {
    const YAML::Mark m = doc.Mark();
    throw ConfigError(file, m.line + 1, m.column + 1, "", "expected a mapping of settings at the top, got " + describe(doc));
  }
  MapReader top(doc, file, "");
  top.string("root", config.root, check_absolute_path);
  top.string("state", config.state, check_absolute_path);
  top.string("socket", config.socket, check_socket_path);
  top.one_of<log::Level>("log_level", config.log_level,
                         {{"debug", log::Level::debug}, {"info", log::Level::info}, {"warn", log::Level::warn},
                          {"error", log::Level::error}});
  top.with("cgroup_driver", [&](const YAML::Node& v, const std::string& kp) {
    if (v.IsScalar() && v.Scalar() == "cgroupfs") return;
    if (v.IsScalar() && v.Scalar() == "systemd") {
      top.fail(v, kp, "the systemd cgroup driver is not supported yet; use cgroupfs");
    }
    top.fail(v, kp, "expected one of cgroupfs, systemd, got " + describe(v));
  });
  top.with("images", [&](const YAML::Node& v, const std::string& kp) {
    if (!v.IsMap()) top.fail(v, kp, "expected a mapping, got " + describe(v));
    MapReader images(v, file, kp);
    images.string("platform", config.images.platform, check_platform);
    images.string_list("preload", config.images.preload, check_absolute_path);
    images.string("sandbox_image", config.images.sandbox_image, [](const std::string& ref) {
      return ref.empty() ? std::string("sandbox image reference is empty") : std::string();
    });
    images.string("sandbox_image_archive", config.images.sandbox_image_archive, check_absolute_path);
    images.finish();
  });
  top.with("runtime", [&](const YAML::Node& v, const std::string& kp) {
    if (!v.IsMap()) top.fail(v, kp, "expected a mapping, got " + describe(v));
    MapReader runtime(v, file, kp);
    runtime.string("monitor_path", config.runtime.monitor_path, check_absolute_path);
    runtime.string("init_path", config.runtime.init_path, check_absolute_path);
    runtime.finish();
  });
  top.with("registries", [&](const YAML::Node& v, const std::string& kp) {
    if (!v.IsMap()) top.fail(v, kp, "expected a mapping of registry hosts, got " + describe(v));
    MapReader hosts(v, file, kp);  // checks for duplicate hosts
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string host = it->first.Scalar();
      const std::string host_path = kp + "." + host;
      if (auto problem = check_registry_host(host); !problem.empty()) top.fail(it->first, host_path, problem);
      if (!it->second.IsMap()) top.fail(it->second, host_path, "expected a mapping, got " + describe(it->second));
      RegistryHostConfig host_config;
      MapReader reader(it->second, file, host_path);
      reader.string_list("mirrors", host_config.mirrors, check_url);
      reader.boolean("insecure_http", host_config.insecure_http);
      reader.boolean("skip_host", host_config.skip_host);
      reader.finish();
      if (host_config.skip_host && host_config.mirrors.empty()) {
        top.fail(it->second, host_path, "skip_host is true but no mirrors are listed: nothing could be pulled");
      }
      config.registries[host] = host_config;
    }
  });
  top.finish();
  return config;
}

Config load_config(const std::optional<std::string>& explicit_path, const std::string& default_path) {
  const std::string& path = explicit_path ? *explicit_path : default_path;
  if (!explicit_path && !fs::exists(path)) return Config{};
  std::string text;
  try {
    text = fs::read_file(path);
  } catch (const Error& e) {
    throw Error(Errc::invalid_argument, "cannot read config file: " + std::string(e.what()));
  }
  return parse_config(text, path);
}

void validate(const Config& config) {
  auto check = [](const char* flag, const std::string& problem) {
    if (!problem.empty()) throw Error(Errc::invalid_argument, std::string(flag) + ": " + problem);
  };
  check("root", check_absolute_path(config.root));
  check("state", check_absolute_path(config.state));
  check("socket", check_socket_path(config.socket));
}

const char* cgroup_driver_name(CgroupDriver driver) {
  return driver == CgroupDriver::systemd ? "systemd" : "cgroupfs";
}

std::string config_to_json(const Config& config) {
  nlohmann::ordered_json j;
  j["source"] = config.source;
  j["root"] = config.root;
  j["state"] = config.state;
  j["socket"] = config.socket;
  j["log_level"] = log::level_name(config.log_level);
  j["cgroup_driver"] = cgroup_driver_name(config.cgroup_driver);
  j["images"] = {{"platform", config.images.platform},
                 {"preload", config.images.preload},
                 {"sandbox_image", config.images.sandbox_image},
                 {"sandbox_image_archive", config.images.sandbox_image_archive}};
  j["runtime"] = {{"monitor_path", config.runtime.monitor_path}, {"init_path", config.runtime.init_path}};
  nlohmann::ordered_json registries = nlohmann::ordered_json::object();
  for (const auto& [host, h] : config.registries) {
    registries[host] = {{"mirrors", h.mirrors}, {"insecure_http", h.insecure_http}, {"skip_host", h.skip_host}};
  }
  j["registries"] = registries;
  return j.dump();
}

}  // namespace vpcri::cri

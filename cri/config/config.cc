#include "cri/config/config.h"

#include <arpa/inet.h>
#include <sys/un.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "common/fs.h"
#include "common/utf8.h"

namespace vpcri::cri {
namespace {

std::string format_number(double value) {
  std::string text = std::to_string(value);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

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
      // A copy: yaml-cpp's iterator hands out a temporary proxy, so a reference would dangle.
      const YAML::Node key = it->first;
      if (!key.IsScalar()) fail(key, path_.empty() ? "<top>" : path_, "keys must be plain names");
      require_utf8(key, path_.empty() ? "<top>" : path_);
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
      require_utf8(v, kp);
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

  void decimal(const std::string& key, double& target, double min, double max) {
    with(key, [&](const YAML::Node& v, const std::string& kp) {
      std::string text = v.IsScalar() ? v.Scalar() : "";
      size_t pos = 0;
      double value = 0;
      bool ok = !text.empty();
      try {
        value = ok ? std::stod(text, &pos) : 0;
      } catch (const std::exception&) {
        ok = false;
      }
      if (!ok || pos != text.size() || value != value) fail(v, kp, "expected a number, got " + describe(v));
      if (value < min || value > max) {
        fail(v, kp, "expected " + format_number(min) + " to " + format_number(max) + ", got " + text);
      }
      target = value;
    });
  }

  void integer(const std::string& key, int& target, long min, long max) {
    with(key, [&](const YAML::Node& v, const std::string& kp) {
      std::string text = v.IsScalar() ? v.Scalar() : "";
      size_t pos = 0;
      long value = 0;
      bool ok = !text.empty();
      try {
        value = ok ? std::stol(text, &pos) : 0;
      } catch (const std::exception&) {
        ok = false;
      }
      if (!ok || pos != text.size()) fail(v, kp, "expected an integer, got " + describe(v));
      if (value < min || value > max) {
        fail(v, kp, "expected " + std::to_string(min) + " to " + std::to_string(max) + ", got " + text);
      }
      target = static_cast<int>(value);
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
        require_utf8(item, item_path);
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
      const std::string name = it->first.Scalar();
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

  // The file is checked as UTF-8 before parsing, but YAML's own processing of control
  // characters can still yield other bytes (a fuzzer found one): each scalar is checked again.
  void require_utf8(const YAML::Node& scalar, const std::string& kp) const {
    if (!valid_utf8(scalar.Scalar())) fail(scalar, kp, "not valid UTF-8 text once the YAML is read");
  }

  const YAML::Node node_;  // a handle, copied: callers pass temporaries such as it->second
  std::string file_;
  std::string path_;
  std::set<std::string> known_;
};

// An AWS resource id: "<prefix>-" and up to 17 lowercase letters or digits (EC2 uses 8 or 17
// hex digits; test VPCs shorter ones such as subnet-0a).
std::function<std::string(const std::string&)> check_aws_id(const std::string& prefix) {
  return [prefix](const std::string& value) -> std::string {
    std::string rest = value.rfind(prefix + "-", 0) == 0 ? value.substr(prefix.size() + 1) : "";
    bool ok = !rest.empty() && rest.size() <= 17 &&
              rest.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz") == std::string::npos;
    if (ok) return {};
    return "expected an id such as " + prefix + "-0123456789abcdef0, got \"" + value + "\"";
  };
}

std::string check_region(const std::string& value) {
  bool ok = !value.empty() && value.size() <= 32 &&
            value.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
  if (ok) return {};
  return "expected an AWS region such as us-east-1, got \"" + value + "\"";
}

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

std::string check_ipv4(const std::string& value) {
  in_addr a{};
  if (::inet_pton(AF_INET, value.c_str(), &a) != 1) return "expected an IPv4 address, got \"" + value + "\"";
  return {};
}

std::string check_ipv4_cidr(const std::string& value) {
  auto slash = value.find('/');
  std::string problem = "expected an IPv4 CIDR such as 10.88.0.0/16, got \"" + value + "\"";
  if (slash == std::string::npos || !check_ipv4(value.substr(0, slash)).empty()) return problem;
  std::string len = value.substr(slash + 1);
  if (len.empty() || len.size() > 2 || len.find_first_not_of("0123456789") != std::string::npos) return problem;
  if (std::stoi(len) > 32) return problem;
  return {};
}

}  // namespace

std::string check_listen_address(const std::string& address) {
  if (address.empty()) return {};
  std::string problem = "expected IP:PORT such as 127.0.0.1:61678 ([addr]:PORT for IPv6, \"\" for off), got \"" +
                        address + "\"";
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return problem;
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return problem;
  }
  in6_addr any{};
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &any) == 1) return {};
  } else if (::inet_pton(AF_INET, host.c_str(), &any) == 1) {
    return {};
  }
  return problem;
}

namespace {

std::string check_interface_name(const std::string& value) {
  if (value.empty() || value.size() >= 16 || value.find('/') != std::string::npos) {
    return "expected a network interface name (1-15 characters, no '/'), got \"" + value + "\"";
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
  // YAML is Unicode text; yaml-cpp does not check, and the config is later served as JSON
  // (Status verbose), which cannot hold other bytes.
  if (size_t bad = invalid_utf8_offset(yaml); bad != std::string_view::npos) {
    std::string_view before = yaml.substr(0, bad);
    size_t line_start = before.rfind('\n');
    int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    int column = 1 + static_cast<int>(line_start == std::string_view::npos ? bad : bad - line_start - 1);
    throw ConfigError(file, line, column, "", "not valid UTF-8 text");
  }
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
    if (v.IsScalar() && v.Scalar() == "cgroupfs") {
      config.cgroup_driver = CgroupDriver::cgroupfs;
      return;
    }
    if (v.IsScalar() && v.Scalar() == "systemd") {
      config.cgroup_driver = CgroupDriver::systemd;
      return;
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
    images.integer("max_layer_gib", config.images.max_layer_gib, 0, 1 << 20);
    images.integer("max_image_gib", config.images.max_image_gib, 0, 1 << 20);
    images.finish();
  });
  top.with("runtime", [&](const YAML::Node& v, const std::string& kp) {
    if (!v.IsMap()) top.fail(v, kp, "expected a mapping, got " + describe(v));
    MapReader runtime(v, file, kp);
    runtime.string("monitor_path", config.runtime.monitor_path, check_absolute_path);
    runtime.string("init_path", config.runtime.init_path, check_absolute_path);
    runtime.string("pause_path", config.runtime.pause_path, check_absolute_path);
    runtime.integer("max_concurrent_exec_sync", config.runtime.max_concurrent_exec_sync, 1, 4096);
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
  top.with("network", [&](const YAML::Node& v, const std::string& kp) {
    if (!v.IsMap()) top.fail(v, kp, "expected a mapping, got " + describe(v));
    MapReader n(v, file, kp);
    NetworkConfig& c = config.network;
    n.with("provider", [&](const YAML::Node& p, const std::string& pkp) {
      if (p.IsScalar() && (p.Scalar() == "local" || p.Scalar() == "aws" || p.Scalar() == "none")) {
        c.provider = p.Scalar();
        return;
      }
      n.fail(p, pkp, "expected one of local, aws, none, got " + describe(p));
    });
    n.string("node_range", c.node_range, check_ipv4_cidr);
    n.integer("mtu", c.mtu, 576, 9001);
    n.integer("max_enis", c.max_enis, 1, 64);
    n.integer("ips_per_eni", c.ips_per_eni, 2, 256);
    n.integer("max_pods", c.max_pods, 0, 100000);
    n.integer("warm_eni_target", c.warm_eni_target, 0, 64);
    n.integer("warm_ip_target", c.warm_ip_target, 0, 100000);
    n.integer("minimum_ip_target", c.minimum_ip_target, 0, 100000);
    n.integer("cooldown_seconds", c.cooldown_seconds, 0, 86400);
    n.boolean("external_snat", c.external_snat);
    n.string_list("snat_exclude", c.snat_exclude, check_ipv4_cidr);
    n.string("primary_interface", c.primary_interface, check_interface_name);
    n.string("primary_ip", c.primary_ip, check_ipv4);
    n.string("host_veth_prefix", c.host_veth_prefix, [](const std::string& p) {
      if (p.empty() || p.size() > 4 || p.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos) {
        return "expected 1-4 lowercase letters, got \"" + p + "\"";
      }
      return std::string();
    });
    n.with("aws", [&](const YAML::Node& a, const std::string& akp) {
      if (!a.IsMap()) n.fail(a, akp, "expected a mapping, got " + describe(a));
      MapReader r(a, file, akp);
      AwsNetworkConfig& aws = c.aws;
      r.string("region", aws.region, check_region);
      r.string("ec2_endpoint", aws.ec2_endpoint, check_url);
      r.string("sts_endpoint", aws.sts_endpoint, check_url);
      r.string("imds_endpoint", aws.imds_endpoint, check_url);
      r.string("ca_file", aws.ca_file, check_absolute_path);
      r.string_list("subnets", aws.subnets, check_aws_id("subnet"));
      r.string_list("security_groups", aws.security_groups, check_aws_id("sg"));
      r.string("cluster_name", aws.cluster_name, [](const std::string& name) {
        // An EC2 tag value: at most 256 characters.
        if (name.size() > 256) return "a tag value holds at most 256 characters, got " + std::to_string(name.size());
        return std::string();
      });
      r.boolean("prefix_delegation", aws.prefix_delegation);
      r.decimal("ec2_requests_per_second", aws.ec2_requests_per_second, 0.1, 1000);
      r.integer("ec2_burst", aws.ec2_burst, 1, 1000);
      r.integer("leaked_eni_grace_seconds", aws.leaked_eni_grace_seconds, 60, 7 * 86400);
      r.finish();
    });
    n.finish();
    // aws takes addresses from the VPC: a node range would be silently unused, so say so.
    if (c.provider == "aws" && !c.node_range.empty()) {
      top.fail(v["node_range"], kp + ".node_range",
               "not used with provider aws (pod IPs come from the VPC's subnets); remove it or use provider local");
    }
  });
  top.with("streaming", [&](const YAML::Node& v, const std::string& kp) {
    if (!v.IsMap()) top.fail(v, kp, "expected a mapping, got " + describe(v));
    MapReader st(v, file, kp);
    StreamingConfig& c = config.streaming;
    st.string("address", c.address, [](const std::string& a) {
      in6_addr any{};
      if (::inet_pton(AF_INET, a.c_str(), &any) == 1 || ::inet_pton(AF_INET6, a.c_str(), &any) == 1) return std::string();
      return "expected an IPv4 or IPv6 address, got \"" + a + "\"";
    });
    st.integer("port", c.port, 0, 65535);
    st.integer("max_sessions", c.max_sessions, 1, 10000);
    st.integer("idle_timeout_seconds", c.idle_timeout_seconds, 1, 7 * 86400);
    st.integer("stream_creation_timeout_seconds", c.stream_creation_timeout_seconds, 1, 3600);
    st.integer("token_ttl_seconds", c.token_ttl_seconds, 1, 3600);
    st.integer("max_tokens", c.max_tokens, 1, 100000);
    st.string("tls_cert_file", c.tls_cert_file, check_absolute_path);
    st.string("tls_key_file", c.tls_key_file, check_absolute_path);
    if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
      top.fail(v, kp + (c.tls_cert_file.empty() ? ".tls_cert_file" : ".tls_key_file"),
               "TLS needs both tls_cert_file and tls_key_file (or neither, for plain HTTP)");
    }
    st.finish();
  });
  for (const auto& entry : {std::pair{"metrics", &config.metrics}, std::pair{"introspection", &config.introspection}}) {
    auto* endpoint = entry.second;  // not a structured binding: clang 14 cannot capture one in a lambda
    top.with(entry.first, [&](const YAML::Node& v, const std::string& kp) {
      if (!v.IsMap()) top.fail(v, kp, "expected a mapping, got " + describe(v));
      MapReader r(v, file, kp);
      r.string("address", endpoint->address, check_listen_address);
      r.finish();
    });
  }
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
  check("metrics.address", check_listen_address(config.metrics.address));
  check("introspection.address", check_listen_address(config.introspection.address));
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
                 {"sandbox_image_archive", config.images.sandbox_image_archive},
                 {"max_layer_gib", config.images.max_layer_gib},
                 {"max_image_gib", config.images.max_image_gib}};
  j["runtime"] = {{"monitor_path", config.runtime.monitor_path}, {"init_path", config.runtime.init_path},
                  {"pause_path", config.runtime.pause_path},
                  {"max_concurrent_exec_sync", config.runtime.max_concurrent_exec_sync}};
  nlohmann::ordered_json registries = nlohmann::ordered_json::object();
  for (const auto& [host, h] : config.registries) {
    registries[host] = {{"mirrors", h.mirrors}, {"insecure_http", h.insecure_http}, {"skip_host", h.skip_host}};
  }
  j["registries"] = registries;
  const StreamingConfig& st = config.streaming;
  j["streaming"] = {{"address", st.address},
                    {"port", st.port},
                    {"max_sessions", st.max_sessions},
                    {"idle_timeout_seconds", st.idle_timeout_seconds},
                    {"stream_creation_timeout_seconds", st.stream_creation_timeout_seconds},
                    {"token_ttl_seconds", st.token_ttl_seconds},
                    {"max_tokens", st.max_tokens},
                    {"tls_cert_file", st.tls_cert_file},
                    {"tls_key_file", st.tls_key_file}};
  j["metrics"] = {{"address", config.metrics.address}};
  j["introspection"] = {{"address", config.introspection.address}};
  const NetworkConfig& n = config.network;
  j["network"] = {{"provider", n.provider},
                  {"node_range", n.node_range},
                  {"mtu", n.mtu},
                  {"max_enis", n.max_enis},
                  {"ips_per_eni", n.ips_per_eni},
                  {"max_pods", n.max_pods},
                  {"warm_eni_target", n.warm_eni_target},
                  {"warm_ip_target", n.warm_ip_target},
                  {"minimum_ip_target", n.minimum_ip_target},
                  {"cooldown_seconds", n.cooldown_seconds},
                  {"external_snat", n.external_snat},
                  {"snat_exclude", n.snat_exclude},
                  {"primary_interface", n.primary_interface},
                  {"primary_ip", n.primary_ip},
                  {"host_veth_prefix", n.host_veth_prefix}};
  const AwsNetworkConfig& aws = n.aws;
  j["network"]["aws"] = {{"region", aws.region},
                         {"ec2_endpoint", aws.ec2_endpoint},
                         {"sts_endpoint", aws.sts_endpoint},
                         {"imds_endpoint", aws.imds_endpoint},
                         {"ca_file", aws.ca_file},
                         {"subnets", aws.subnets},
                         {"security_groups", aws.security_groups},
                         {"cluster_name", aws.cluster_name},
                         {"prefix_delegation", aws.prefix_delegation},
                         {"ec2_requests_per_second", aws.ec2_requests_per_second},
                         {"ec2_burst", aws.ec2_burst},
                         {"leaked_eni_grace_seconds", aws.leaked_eni_grace_seconds}};
  return j.dump();
}

}  // namespace vpcri::cri

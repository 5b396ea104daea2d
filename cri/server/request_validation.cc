#include "cri/server/request_validation.h"

#include <unistd.h>

#include <climits>

#include "common/error.h"

namespace vpcri::cri {
namespace {

namespace v1 = ::runtime::v1;
using L = RequestLimits;

[[noreturn]] void too_big(const std::string& what, size_t got, size_t limit, const char* unit) {
  throw Error(Errc::resource_exhausted, what + ": " + std::to_string(got) + " " + unit + ", at most " +
                                            std::to_string(limit) + " allowed");
}

void bound_count(const std::string& what, size_t count, size_t limit) {
  if (count > limit) too_big(what, count, limit, "entries");
}

void bound_bytes(const std::string& what, size_t bytes, size_t limit) {
  if (bytes > limit) too_big(what, bytes, limit, "bytes");
}

// A NUL would cut the string short wherever it becomes a C string (a path, an env entry, argv).
void no_nul(const std::string& what, const std::string& value) {
  if (value.find('\0') != std::string::npos) throw Error(Errc::invalid_argument, what + " contains a NUL byte");
}

void check_path(const std::string& what, const std::string& path) {
  bound_bytes(what, path.size(), L::max_path_bytes);
  no_nul(what, path);
}

void check_metadata(const char* what, const std::string& value) {
  bound_bytes(std::string("metadata ") + what, value.size(), L::max_metadata_bytes);
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      throw Error(Errc::invalid_argument, std::string("metadata ") + what + " contains a control character");
    }
  }
}

void check_map(const char* what, const google::protobuf::Map<std::string, std::string>& map, size_t max_value,
               size_t max_total) {
  size_t total = 0;
  for (const auto& [key, value] : map) {
    if (key.empty()) throw Error(Errc::invalid_argument, std::string(what) + ": a key is empty");
    bound_bytes(std::string(what) + " key \"" + key.substr(0, 64) + "\"", key.size(), L::max_key_bytes);
    bound_bytes(std::string(what) + " value of \"" + key + "\"", value.size(), max_value);
    total += key.size() + value.size();
  }
  bound_bytes(std::string(what) + " in total", total, max_total);
}

// argv and envp strings as execve(2) counts them: the bytes, the NUL and the pointer.
size_t exec_cost(size_t bytes) { return bytes + 1 + sizeof(char*); }

size_t check_args(const char* what, const google::protobuf::RepeatedPtrField<std::string>& args) {
  bound_count(what, static_cast<size_t>(args.size()), L::max_args);
  size_t cost = 0;
  for (int i = 0; i < args.size(); ++i) {
    const std::string item = std::string(what) + "[" + std::to_string(i) + "]";
    bound_bytes(item, args[i].size(), L::max_arg_bytes);
    no_nul(item, args[i]);
    cost += exec_cost(args[i].size());
  }
  return cost;
}

size_t check_env(const google::protobuf::RepeatedPtrField<v1::KeyValue>& envs) {
  bound_count("envs", static_cast<size_t>(envs.size()), L::max_env);
  size_t cost = 0;
  for (int i = 0; i < envs.size(); ++i) {
    const auto& kv = envs[i];
    const std::string item = "envs[" + std::to_string(i) + "]";
    if (kv.key().empty()) throw Error(Errc::invalid_argument, item + ": the name is empty");
    if (kv.key().find('=') != std::string::npos) {
      throw Error(Errc::invalid_argument, item + ": the name \"" + kv.key().substr(0, 64) + "\" contains '='");
    }
    no_nul(item + " (" + kv.key().substr(0, 64) + ")", kv.key() + kv.value());
    const size_t entry = kv.key().size() + 1 + kv.value().size();
    bound_bytes(item + " (" + kv.key().substr(0, 64) + ")", entry, L::max_arg_bytes);
    cost += exec_cost(entry);
  }
  return cost;
}

void check_dns(const char* what, const google::protobuf::RepeatedPtrField<std::string>& entries) {
  const std::string name = std::string("dns_config.") + what;
  bound_count(name, static_cast<size_t>(entries.size()), L::max_dns_entries);
  for (const auto& e : entries) {
    bound_bytes(name + " entry", e.size(), L::max_dns_entry_bytes);
    for (char c : e) {
      // One resolv.conf line per kind: whitespace would start another option, a newline another line.
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
        throw Error(Errc::invalid_argument, name + " entry contains whitespace or a control character");
      }
    }
  }
}

void check_user(const char* who, bool has_uid, int64_t uid, bool has_username, bool has_gid, int64_t gid,
                const google::protobuf::RepeatedField<int64_t>& groups) {
  const std::string prefix = std::string(who) + " security context: ";
  if (has_uid) checked_id(uid, (prefix + "run_as_user").c_str());
  if (has_gid) {
    checked_id(gid, (prefix + "run_as_group").c_str());
    // As containerd: a group alone would pair with whichever user the image names.
    if (!has_uid && !has_username) {
      throw Error(Errc::invalid_argument, prefix + "run_as_group is set without run_as_user or run_as_username");
    }
  }
  bound_count(prefix + "supplemental_groups", static_cast<size_t>(groups.size()), NGROUPS_MAX);
  for (int64_t g : groups) checked_id(g, (prefix + "supplemental_groups").c_str());
}

}  // namespace

void validate_hostname(const std::string& hostname) {
  auto bad = [&](const std::string& rule) {
    std::string shown;
    for (char c : hostname.substr(0, 80)) shown += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    throw Error(Errc::invalid_argument, "hostname \"" + shown + "\" is invalid: " + rule);
  };
  if (hostname.size() > L::max_hostname_bytes) {
    bad("longer than " + std::to_string(L::max_hostname_bytes) + " bytes");
  }
  const std::string rule = "must be a lowercase RFC 1123 name: labels of [a-z0-9-] separated by '.', "
                           "each 1-63 bytes starting and ending with a letter or digit";
  size_t label_start = 0;
  for (size_t i = 0; i <= hostname.size(); ++i) {
    const char c = i < hostname.size() ? hostname[i] : '.';
    if (c == '.') {
      const size_t len = i - label_start;
      if (len == 0 || len > L::max_hostname_label_bytes) bad(rule);
      if (hostname[label_start] == '-' || hostname[i - 1] == '-') bad(rule);
      label_start = i + 1;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) bad(rule);
  }
}

std::string pod_hostname(const std::string& requested) {
  if (!requested.empty()) {
    validate_hostname(requested);
    return requested;
  }
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0) throw_errno("gethostname");
  return name;
}

uint32_t checked_id(int64_t id, const char* what) {
  if (id < 0 || id > kMaxId) {
    throw Error(Errc::invalid_argument, std::string(what) + " " + std::to_string(id) + " is out of range (0 to " +
                                            std::to_string(kMaxId) + ")");
  }
  return static_cast<uint32_t>(id);
}

void validate_pod_sandbox_config(const v1::PodSandboxConfig& config) {
  const auto& meta = config.metadata();
  check_metadata("name", meta.name());
  check_metadata("namespace", meta.namespace_());
  check_metadata("uid", meta.uid());
  if (!config.hostname().empty()) validate_hostname(config.hostname());
  check_path("log_directory", config.log_directory());
  check_map("labels", config.labels(), L::max_label_value_bytes, L::max_labels_bytes);
  check_map("annotations", config.annotations(), L::max_annotations_bytes, L::max_annotations_bytes);
  check_dns("servers", config.dns_config().servers());
  check_dns("searches", config.dns_config().searches());
  check_dns("options", config.dns_config().options());
  bound_count("port_mappings", static_cast<size_t>(config.port_mappings_size()), L::max_port_mappings);
  const auto& linux = config.linux();
  bound_count("sysctls", linux.sysctls().size(), L::max_sysctls);
  const auto& sc = linux.security_context();
  check_user("pod", sc.has_run_as_user(), sc.run_as_user().value(), false, sc.has_run_as_group(),
             sc.run_as_group().value(), sc.supplemental_groups());
}

void validate_container_config(const v1::ContainerConfig& config) {
  check_metadata("name", config.metadata().name());
  size_t exec_bytes = check_args("command", config.command()) + check_args("args", config.args());
  exec_bytes += check_env(config.envs());
  bound_bytes("command, args and envs together (execve's limit)", exec_bytes, L::max_exec_bytes);
  check_path("working_dir", config.working_dir());
  bound_count("mounts", static_cast<size_t>(config.mounts_size()), L::max_mounts);
  for (const auto& m : config.mounts()) {
    check_path("mount container_path", m.container_path());
    check_path("mount host_path", m.host_path());
  }
  bound_count("devices", static_cast<size_t>(config.devices_size()), L::max_devices);
  for (const auto& d : config.devices()) {
    check_path("device container_path", d.container_path());
    check_path("device host_path", d.host_path());
  }
  check_map("labels", config.labels(), L::max_label_value_bytes, L::max_labels_bytes);
  check_map("annotations", config.annotations(), L::max_annotations_bytes, L::max_annotations_bytes);
  const auto& sc = config.linux().security_context();
  check_user("container", sc.has_run_as_user(), sc.run_as_user().value(), !sc.run_as_username().empty(),
             sc.has_run_as_group(), sc.run_as_group().value(), sc.supplemental_groups());
  no_nul("run_as_username", sc.run_as_username());
}

void validate_exec_cmd(const google::protobuf::RepeatedPtrField<std::string>& cmd) {
  if (cmd.empty()) throw Error(Errc::invalid_argument, "cmd is empty; give the command to run");
  bound_bytes("cmd (execve's limit)", check_args("cmd", cmd), L::max_exec_bytes);
}

}  // namespace vpcri::cri

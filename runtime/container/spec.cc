#include "runtime/container/spec.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/text.h"

namespace vpcri::runtime::container {
namespace {

using nlohmann::json;

const char* mode_name(NamespaceSpec::Mode mode) {
  switch (mode) {
    case NamespaceSpec::Mode::host: return "host";
    case NamespaceSpec::Mode::fresh: return "fresh";
    case NamespaceSpec::Mode::join: return "join";
  }
  return "?";
}

const char* propagation_name(Propagation p) {
  switch (p) {
    case Propagation::private_: return "private";
    case Propagation::rslave: return "rslave";
    case Propagation::rshared: return "rshared";
  }
  return "?";
}

const char* seccomp_name(SeccompSpec::Mode mode) {
  switch (mode) {
    case SeccompSpec::Mode::unconfined: return "unconfined";
    case SeccompSpec::Mode::runtime_default: return "runtime_default";
    case SeccompSpec::Mode::localhost: return "localhost";
  }
  return "?";
}

json namespace_json(const NamespaceSpec& ns) {
  json j = {{"mode", mode_name(ns.mode)}};
  if (ns.mode == NamespaceSpec::Mode::join) j["path"] = ns.path;
  return j;
}

// Reading: every accessor names the field ("process.rlimits[2].soft") in its error.
[[noreturn]] void bad(const std::string& field, const std::string& what) {
  throw Error(Errc::invalid_argument, "init spec: " + field + ": " + what);
}

const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string join_field(const std::string& field, const char* key) {
  return field.empty() ? std::string(key) : field + "." + key;
}

const json& object_at(const json& obj, const std::string& field, const char* key) {
  const json* v = member(obj, key);
  if (v == nullptr) bad(join_field(field, key), "missing");
  if (!v->is_object()) bad(join_field(field, key), "not an object");
  return *v;
}

template <typename T>
void read(const json& obj, const std::string& field, const char* key, T& out) {
  const json* v = member(obj, key);
  if (v == nullptr) return;  // absent: the default
  std::string name = join_field(field, key);
  if constexpr (std::is_same_v<T, bool>) {
    if (!v->is_boolean()) bad(name, "not a boolean");
    out = v->get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v->is_string()) bad(name, "not a string");
    out = v->get<std::string>();
  } else if constexpr (std::is_same_v<T, int>) {
    if (!v->is_number_integer()) bad(name, "not an integer");
    auto n = v->get<int64_t>();
    if (n < INT32_MIN || n > INT32_MAX) bad(name, "out of range");
    out = static_cast<int>(n);
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    if (!v->is_number_unsigned()) bad(name, "not a non-negative integer");
    auto n = v->get<uint64_t>();
    if (n > UINT32_MAX) bad(name, "out of range");
    out = static_cast<uint32_t>(n);
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    if (!v->is_number_unsigned()) bad(name, "not a non-negative integer");
    out = v->get<uint64_t>();
  } else {
    static_assert(sizeof(T) == 0, "unsupported field type");
  }
}

// Arrays: `each(element, "field[i]")` reads one element.
template <typename F>
void read_array(const json& obj, const std::string& field, const char* key, F each) {
  const json* v = member(obj, key);
  if (v == nullptr) return;
  std::string name = join_field(field, key);
  if (!v->is_array()) bad(name, "not an array");
  for (size_t i = 0; i < v->size(); i++) each((*v)[i], name + "[" + std::to_string(i) + "]");
}

std::string string_value(const json& v, const std::string& field) {
  if (!v.is_string()) bad(field, "not a string");
  return v.get<std::string>();
}

uint32_t uint32_value(const json& v, const std::string& field) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX) bad(field, "not a 32-bit unsigned integer");
  return static_cast<uint32_t>(v.get<uint64_t>());
}

std::vector<std::string> strings(const json& obj, const std::string& field, const char* key) {
  std::vector<std::string> out;
  read_array(obj, field, key, [&](const json& v, const std::string& name) { out.push_back(string_value(v, name)); });
  return out;
}

NamespaceSpec read_namespace(const json& obj, const char* key) {
  NamespaceSpec ns;
  const json* v = member(obj, key);
  if (v == nullptr) return ns;
  if (!v->is_object()) bad(key, "not an object");
  std::string mode;
  read(*v, key, "mode", mode);
  if (mode == "host") {
    ns.mode = NamespaceSpec::Mode::host;
  } else if (mode == "fresh" || mode.empty()) {
    ns.mode = NamespaceSpec::Mode::fresh;
  } else if (mode == "join") {
    ns.mode = NamespaceSpec::Mode::join;
    read(*v, key, "path", ns.path);
    if (ns.path.empty() || ns.path[0] != '/') bad(std::string(key) + ".path", "join needs an absolute path");
  } else {
    bad(std::string(key) + ".mode", "\"" + mode + "\" is not host, fresh or join");
  }
  return ns;
}

ProcessSpec read_process(const json& obj) {
  const std::string f = "process";
  const json& p = object_at(obj, "", "process");
  ProcessSpec out;
  out.args = strings(p, f, "args");
  out.env = strings(p, f, "env");
  read(p, f, "cwd", out.cwd);
  if (out.cwd.empty() || out.cwd[0] != '/') bad("process.cwd", "\"" + out.cwd + "\" is not absolute");
  read(p, f, "uid", out.uid);
  read(p, f, "gid", out.gid);
  read_array(p, f, "additional_gids",
             [&](const json& v, const std::string& name) { out.additional_gids.push_back(uint32_value(v, name)); });
  out.capabilities = strings(p, f, "capabilities");
  read(p, f, "no_new_privs", out.no_new_privs);
  if (const json* s = member(p, "seccomp")) {
    if (!s->is_object()) bad("process.seccomp", "not an object");
    std::string mode;
    read(*s, "process.seccomp", "mode", mode);
    if (mode == "unconfined" || mode.empty()) {
      out.seccomp.mode = SeccompSpec::Mode::unconfined;
    } else if (mode == "runtime_default") {
      out.seccomp.mode = SeccompSpec::Mode::runtime_default;
    } else if (mode == "localhost") {
      out.seccomp.mode = SeccompSpec::Mode::localhost;
      read(*s, "process.seccomp", "profile_path", out.seccomp.profile_path);
      if (out.seccomp.profile_path.empty() || out.seccomp.profile_path[0] != '/') {
        bad("process.seccomp.profile_path", "localhost needs an absolute path");
      }
    } else {
      bad("process.seccomp.mode", "\"" + mode + "\" is not unconfined, runtime_default or localhost");
    }
    std::string filter_hex;
    read(*s, "process.seccomp", "filter", filter_hex);
    if (!hex_decode(filter_hex, out.seccomp.filter)) bad("process.seccomp.filter", "not hex digits in pairs");
  }
  read_array(p, f, "rlimits", [&](const json& v, const std::string& name) {
    if (!v.is_object()) bad(name, "not an object");
    Rlimit r;
    read(v, name, "name", r.name);
    if (r.name.empty()) bad(name + ".name", "missing");
    read(v, name, "soft", r.soft);
    read(v, name, "hard", r.hard);
    out.rlimits.push_back(std::move(r));
  });
  if (member(p, "oom_score_adj") != nullptr) {
    int adj = 0;
    read(p, f, "oom_score_adj", adj);
    if (adj < -1000 || adj > 1000) bad("process.oom_score_adj", std::to_string(adj) + " is not in -1000..1000");
    out.oom_score_adj = adj;
  }
  if (out.args.empty()) bad("process.args", "no command");
  return out;
}

BindMount read_mount(const json& v, const std::string& name) {
  if (!v.is_object()) bad(name, "not an object");
  BindMount m;
  read(v, name, "source", m.source);
  read(v, name, "destination", m.destination);
  if (m.source.empty() || m.source[0] != '/') bad(name + ".source", "\"" + m.source + "\" is not absolute");
  if (m.destination.empty() || m.destination[0] != '/') {
    bad(name + ".destination", "\"" + m.destination + "\" is not absolute");
  }
  read(v, name, "readonly", m.readonly);
  read(v, name, "recursive", m.recursive);
  std::string propagation = "private";
  read(v, name, "propagation", propagation);
  if (propagation == "private") {
    m.propagation = Propagation::private_;
  } else if (propagation == "rslave") {
    m.propagation = Propagation::rslave;
  } else if (propagation == "rshared") {
    m.propagation = Propagation::rshared;
  } else {
    bad(name + ".propagation", "\"" + propagation + "\" is not private, rslave or rshared");
  }
  return m;
}

DeviceNode read_device(const json& v, const std::string& name) {
  if (!v.is_object()) bad(name, "not an object");
  DeviceNode d;
  read(v, name, "host_path", d.host_path);
  read(v, name, "path", d.path);
  if (d.path.empty() || d.path[0] != '/') bad(name + ".path", "\"" + d.path + "\" is not absolute");
  std::string type = "c";
  read(v, name, "type", type);
  if (type != "c" && type != "b") bad(name + ".type", "\"" + type + "\" is not c or b");
  d.type = type[0];
  read(v, name, "major", d.major);
  read(v, name, "minor", d.minor);
  read(v, name, "mode", d.mode);
  read(v, name, "uid", d.uid);
  read(v, name, "gid", d.gid);
  read(v, name, "access", d.access);
  if (d.access.empty() || d.access.find_first_not_of("rwm") != std::string::npos) {
    bad(name + ".access", "\"" + d.access + "\" is not a subset of rwm");
  }
  return d;
}

CgroupfsLayout read_cgroupfs(const json& v) {
  CgroupfsLayout layout;
  read_array(v, "cgroupfs", "mounts", [&](const json& m, const std::string& name) {
    if (!m.is_object()) bad(name, "not an object");
    CgroupfsMount mount;
    read(m, name, "mountpoint", mount.mountpoint);
    read(m, name, "fstype", mount.fstype);
    read(m, name, "data", mount.data);
    if (mount.mountpoint.rfind(kCgroupfsRoot, 0) != 0) bad(name + ".mountpoint", "not under /sys/fs/cgroup");
    if (mount.fstype != "cgroup" && mount.fstype != "cgroup2") bad(name + ".fstype", "not cgroup or cgroup2");
    layout.mounts.push_back(std::move(mount));
  });
  read_array(v, "cgroupfs", "symlinks", [&](const json& l, const std::string& name) {
    if (!l.is_object()) bad(name, "not an object");
    CgroupfsSymlink link;
    read(l, name, "name", link.name);
    read(l, name, "target", link.target);
    if (link.name.empty() || link.name.find('/') != std::string::npos || link.name == "." || link.name == "..") {
      bad(name + ".name", "not a file name");
    }
    layout.symlinks.push_back(std::move(link));
  });
  return layout;
}

}  // namespace

std::string init_spec_to_json(const InitSpec& spec) {
  const ProcessSpec& p = spec.process;
  json process = {
      {"args", p.args},
      {"env", p.env},
      {"cwd", p.cwd},
      {"uid", p.uid},
      {"gid", p.gid},
      {"additional_gids", p.additional_gids},
      {"capabilities", p.capabilities},
      {"no_new_privs", p.no_new_privs},
      {"seccomp", {{"mode", seccomp_name(p.seccomp.mode)}, {"profile_path", p.seccomp.profile_path}}},
  };
  if (!p.seccomp.filter.empty()) process["seccomp"]["filter"] = hex_encode(p.seccomp.filter);
  json rlimits = json::array();
  for (const auto& r : p.rlimits) rlimits.push_back({{"name", r.name}, {"soft", r.soft}, {"hard", r.hard}});
  process["rlimits"] = std::move(rlimits);
  if (p.oom_score_adj) process["oom_score_adj"] = *p.oom_score_adj;

  json mounts = json::array();
  for (const auto& m : spec.mounts) {
    mounts.push_back({{"source", m.source},
                      {"destination", m.destination},
                      {"readonly", m.readonly},
                      {"propagation", propagation_name(m.propagation)},
                      {"recursive", m.recursive}});
  }
  json devices = json::array();
  for (const auto& d : spec.devices) {
    devices.push_back({{"host_path", d.host_path},
                       {"path", d.path},
                       {"type", std::string(1, d.type)},
                       {"major", d.major},
                       {"minor", d.minor},
                       {"mode", d.mode},
                       {"uid", d.uid},
                       {"gid", d.gid},
                       {"access", d.access}});
  }
  json j = {
      {"process", std::move(process)},
      {"net", namespace_json(spec.net)},
      {"ipc", namespace_json(spec.ipc)},
      {"uts", namespace_json(spec.uts)},
      {"pid", namespace_json(spec.pid)},
      {"mnt", namespace_json(spec.mnt)},
      {"cgroup", namespace_json(spec.cgroup)},
      {"rootfs", spec.rootfs},
      {"readonly_rootfs", spec.readonly_rootfs},
      {"privileged", spec.privileged},
      {"mounts", std::move(mounts)},
      {"devices", std::move(devices)},
      {"masked_paths", spec.masked_paths},
      {"readonly_paths", spec.readonly_paths},
      {"hostname", spec.hostname},
      {"sysctls", spec.sysctls},
      {"cgroup_dirs", spec.cgroup_dirs},
      {"ns_pidfd", spec.ns_pidfd},
  };
  if (spec.cgroupfs) {
    json cgroup_mounts = json::array(), symlinks = json::array();
    for (const auto& m : spec.cgroupfs->mounts) {
      cgroup_mounts.push_back({{"mountpoint", m.mountpoint}, {"fstype", m.fstype}, {"data", m.data}});
    }
    for (const auto& l : spec.cgroupfs->symlinks) symlinks.push_back({{"name", l.name}, {"target", l.target}});
    j["cgroupfs"] = {{"mounts", std::move(cgroup_mounts)}, {"symlinks", std::move(symlinks)}};
  }
  return j.dump(2) + "\n";
}

InitSpec init_spec_from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(Errc::invalid_argument, std::string("init spec: not JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(Errc::invalid_argument, "init spec: not a JSON object");
  InitSpec spec;
  spec.process = read_process(j);
  spec.net = read_namespace(j, "net");
  spec.ipc = read_namespace(j, "ipc");
  spec.uts = read_namespace(j, "uts");
  spec.pid = read_namespace(j, "pid");
  spec.mnt = read_namespace(j, "mnt");
  spec.cgroup = read_namespace(j, "cgroup");
  read(j, "", "rootfs", spec.rootfs);
  if (!spec.rootfs.empty() && spec.rootfs[0] != '/') bad("rootfs", "\"" + spec.rootfs + "\" is not absolute");
  read(j, "", "readonly_rootfs", spec.readonly_rootfs);
  read(j, "", "privileged", spec.privileged);
  read_array(j, "", "mounts", [&](const json& v, const std::string& name) { spec.mounts.push_back(read_mount(v, name)); });
  read_array(j, "", "devices", [&](const json& v, const std::string& name) { spec.devices.push_back(read_device(v, name)); });
  spec.masked_paths = strings(j, "", "masked_paths");
  spec.readonly_paths = strings(j, "", "readonly_paths");
  read(j, "", "hostname", spec.hostname);
  if (const json* s = member(j, "sysctls")) {
    if (!s->is_object()) bad("sysctls", "not an object");
    for (const auto& [key, value] : s->items()) spec.sysctls[key] = string_value(value, "sysctls." + key);
  }
  spec.cgroup_dirs = strings(j, "", "cgroup_dirs");
  if (member(j, "cgroupfs") != nullptr) spec.cgroupfs = read_cgroupfs(object_at(j, "", "cgroupfs"));
  read(j, "", "ns_pidfd", spec.ns_pidfd);
  return spec;
}

}  // namespace vpcri::runtime::container

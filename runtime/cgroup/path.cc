#include "runtime/cgroup/path.h"

#include <cctype>
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/utf8.h"

namespace vpcri::runtime::cgroup {
namespace {

// Controllers whose interface files ("memory.max", "cpu.shares") share the directory namespace
// with child cgroups in v1 or v2; a child named like them would collide or confuse readers.
constexpr std::string_view kControllerPrefixes[] = {
    "cgroup",  "cpu",   "cpuacct", "cpuset", "memory",    "pids",    "hugetlb", "blkio", "io",
    "devices", "freezer", "net_cls", "net_prio", "perf_event", "rdma", "misc"};
constexpr std::string_view kV1CoreFiles[] = {"tasks", "notify_on_release", "release_agent"};

// Printable escape for error messages: the offending input may contain anything.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '"' || c == '\\') {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

[[noreturn]] void refuse(std::string_view path, const std::string& why) {
  throw Error(Errc::invalid_argument, "invalid cgroup path " + quoted(path) + ": " + why);
}

void check_component(std::string_view path, std::string_view name) {
  if (name == "." || name == "..")
    refuse(path, "component " + quoted(name) + " is not allowed (paths must stay inside the cgroup root)");
  if (name.size() > NAME_MAX)
    refuse(path, "component of " + std::to_string(name.size()) + " bytes exceeds NAME_MAX (" +
                     std::to_string(NAME_MAX) + ")");
  for (std::string_view core : kV1CoreFiles)
    if (name == core) refuse(path, "component " + quoted(name) + " is a cgroup interface file name");
  auto dot = name.find('.');
  if (dot != std::string_view::npos) {
    std::string_view prefix = name.substr(0, dot);
    for (std::string_view ctrl : kControllerPrefixes)
      if (prefix == ctrl)
        refuse(path, "component " + quoted(name) + " is reserved: names starting with \"" + std::string(ctrl) +
                         ".\" belong to the cgroup interface");
  }
}

}  // namespace

std::string validate_cgroup_path(std::string_view path) {
  if (path.empty()) refuse(path, "empty");
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f) refuse(path, "contains a NUL or control character");
  if (!valid_utf8(path)) refuse(path, "not valid UTF-8");

  std::string out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view name = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (name.empty()) continue;  // leading, doubled or trailing slash
    check_component(path, name);
    out += '/';
    out += name;
  }
  if (out.empty()) refuse(path, "names the root cgroup, which belongs to the host");
  return out;
}

std::string validate_cgroup_parent(std::string_view path) {
  std::string canonical = validate_cgroup_path(path);
  if (path.find(':') != std::string_view::npos)
    refuse(path, "\":\" belongs to the systemd driver's \"slice:prefix:name\" syntax, but vpcri runs with "
                 "cgroup_driver: cgroupfs");
  // A systemd driver parent ("kubepods-burstable.slice") would silently become a directory
  // with that name under cgroupfs; say what to configure instead.
  if (canonical.ends_with(".slice") || canonical.find(".slice/") != std::string::npos)
    refuse(path, "it names a systemd slice, but vpcri runs with cgroup_driver: cgroupfs (set the same driver "
                 "as kubelet's cgroupDriver)");
  for (unsigned char c : canonical)
    if (!(std::isalnum(c) && c < 0x80) && c != '/' && c != '.' && c != '_' && c != '-')
      refuse(path, "a cgroup parent may only hold the letters, digits and . _ - that kubelet's cgroupfs driver uses");
  return canonical;
}

std::string join_cgroup_path(std::string_view parent, std::string_view child) {
  if (child.empty() || child.find('/') != std::string_view::npos)
    refuse(child, "a child cgroup name must be one non-empty path component");
  return validate_cgroup_path(std::string(parent) + "/" + std::string(child));
}

}  // namespace vpcri::runtime::cgroup

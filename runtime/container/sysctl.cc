#include "runtime/container/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "runtime/container/init_error.h"
#include "runtime/snapshot/fs_at.h"

namespace vpcri::runtime::container {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

[[noreturn]] void reject(const std::string& key, const std::string& why) {
  throw InitError(EINVAL, "sysctl \"" + key + "\": " + why);
}

}  // namespace

std::string sysctl_path(const std::string& key, const std::string& value, const InitSpec& spec) {
  bool well_formed = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' || c == '/';
  });
  if (!well_formed) reject(key, "not a sysctl name");
  std::string path = key;
  if (key.find('/') == std::string::npos) std::replace(path.begin(), path.end(), '.', '/');
  // Every component a plain name: "", "." or ".." would walk elsewhere in /proc/sys.
  for (size_t i = 0;;) {
    size_t end = path.find('/', i);
    std::string part = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (part.empty() || part == "." || part == "..") reject(key, "not a sysctl name");
    if (end == std::string::npos) break;
    i = end + 1;
  }
  if (value.find('\n') != std::string::npos) reject(key, "the value has a newline");
  std::string dotted = path;
  std::replace(dotted.begin(), dotted.end(), '/', '.');
  bool ipc = starts_with(dotted, "kernel.shm") || starts_with(dotted, "kernel.msg") || dotted == "kernel.sem" ||
             starts_with(dotted, "fs.mqueue.");
  bool net = starts_with(dotted, "net.");
  if (!ipc && !net) reject(key, "not a namespaced sysctl");
  if (ipc && spec.ipc.mode == NamespaceSpec::Mode::host) reject(key, "the container shares the host's IPC namespace");
  if (net && spec.net.mode == NamespaceSpec::Mode::host) {
    reject(key, "the container shares the host's network namespace");
  }
  return path;
}

void apply_sysctls(const InitSpec& spec) {
  if (spec.sysctls.empty()) return;
  std::map<std::string, std::string> paths;
  for (const auto& [key, value] : spec.sysctls) paths[key] = sysctl_path(key, value, spec);
  UniqueFd sys(::open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!sys) init_failed("open /proc/sys");
  for (const auto& [key, value] : spec.sysctls) {
    UniqueFd fd = snapshot::open_beneath(sys.get(), paths[key], O_WRONLY | O_TRUNC);
    if (!fd) init_failed("sysctl \"" + key + "\"");
    if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
      init_failed("sysctl \"" + key + "\" = \"" + value + "\"");
    }
  }
}

}  // namespace vpcri::runtime::container

#include "runtime/container/init_process.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "common/error.h"
#include "common/fd.h"
#include "runtime/container/init_error.h"
#include "runtime/security/capabilities.h"

namespace vpcri::runtime::container {
namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

int rlimit_resource(const std::string& name) {
  static const std::map<std::string, int> kResources = {
      {"RLIMIT_AS", RLIMIT_AS},         {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
      {"RLIMIT_DATA", RLIMIT_DATA},     {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_STACK", RLIMIT_STACK},
  };
  auto it = kResources.find(name);
  if (it == kResources.end()) throw InitError(EINVAL, "setrlimit " + name + ": unknown resource");
  return it->second;
}

bool executable_file(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

void apply_rlimits(const std::vector<Rlimit>& rlimits) {
  for (const Rlimit& r : rlimits) {
    rlimit value{r.soft, r.hard};
    if (::setrlimit(rlimit_resource(r.name), &value) == 0) continue;
    int err = errno;
    std::string what = "setrlimit " + r.name + " (soft " + std::to_string(r.soft) + ", hard " + std::to_string(r.hard) + ")";
    if (err == EPERM) what += " needs CAP_SYS_RESOURCE to raise the hard limit";
    init_failed(what, err);
  }
}

void apply_oom_score_adj(int value) {
  UniqueFd fd(::open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC));
  if (!fd) init_failed("open /proc/self/oom_score_adj");
  std::string text = std::to_string(value);
  if (::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size())) return;
  int err = errno;
  char current[16] = {};
  if ((err == EACCES || err == EPERM) && ::pread(fd.get(), current, sizeof current - 1, 0) > 0 &&
      value < std::atoi(current)) {
    return;  // not permitted to lower it: it stays at the current value
  }
  init_failed("write oom_score_adj " + text, err);
}

void switch_user(const ProcessSpec& process) {
  const auto& gids = process.additional_gids;
  if (::setgroups(gids.size(), gids.empty() ? nullptr : gids.data()) != 0) init_failed("setgroups");
  if (::setresgid(process.gid, process.gid, process.gid) != 0) init_failed("setresgid " + std::to_string(process.gid));
  // Without keep-caps, leaving uid 0 would empty the permitted set before we choose it.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) init_failed("prctl(PR_SET_KEEPCAPS)");
  if (::setresuid(process.uid, process.uid, process.uid) != 0) init_failed("setresuid " + std::to_string(process.uid));
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) init_failed("prctl(PR_SET_KEEPCAPS)");
  try {
    security::apply_capabilities(process.capabilities, process.uid != 0);
  } catch (const Error& e) {
    throw InitError(EPERM, std::string("capabilities: ") + e.what());
  }
}

std::string find_executable(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = kDefaultPath;
  for (const std::string& e : env) {
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  for (size_t i = 0; i <= path.size();) {
    size_t end = path.find(':', i);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(i, end - i);
    if (!dir.empty() && executable_file(dir + "/" + name)) return dir + "/" + name;
    i = end + 1;
  }
  throw InitError(ENOENT, "exec \"" + name + "\": executable file not found in $PATH");
}

}  // namespace vpcri::runtime::container

#include "runtime/security/filter_cache.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "runtime/security/seccomp.h"

namespace vpcri::runtime::security {
namespace {

// Localhost profiles are files anyone with node access may rewrite: bounded, so that endless
// variants cannot grow vpcrid (RuntimeDefault is just one entry per capability set).
constexpr size_t kMaxEntries = 64;

std::string key_of(const std::string& profile_json, std::vector<std::string> caps) {
  std::sort(caps.begin(), caps.end());
  std::string key;
  for (const auto& cap : caps) key += cap + ",";
  key += '\n';  // no capability name holds one
  key += profile_json;
  return key;
}

}  // namespace

std::string cached_filter(const std::string& profile_json, const std::vector<std::string>& caps) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::string> filters;
  std::string key = key_of(profile_json, caps);
  {
    std::lock_guard lock(mutex);
    if (auto it = filters.find(key); it != filters.end()) return it->second;
  }
  // Compiled unlocked: two first starts may both compile, and get the same program.
  std::string bpf = compile_profile_json(profile_json, caps);
  std::lock_guard lock(mutex);
  if (filters.size() >= kMaxEntries) filters.clear();
  filters.emplace(std::move(key), bpf);
  return bpf;
}

}  // namespace vpcri::runtime::security

#include "runtime/cgroup_mode.h"

#include <linux/magic.h>
#include <sys/vfs.h>

#include "common/error.h"

namespace vpcri::runtime {
namespace {

bool is_cgroup2(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

}  // namespace

const char* cgroup_mode_name(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::legacy: return "v1";
    case CgroupMode::hybrid: return "v1-hybrid";
    case CgroupMode::unified: return "v2";
  }
  return "unknown";
}

CgroupMode detect_cgroup_mode(const std::string& root) {
  struct statfs st {};
  if (::statfs(root.c_str(), &st) != 0) throw_errno("statfs " + root);
  if (st.f_type == CGROUP2_SUPER_MAGIC) return CgroupMode::unified;
  return is_cgroup2(root + "/unified") ? CgroupMode::hybrid : CgroupMode::legacy;
}

}  // namespace vpcri::runtime

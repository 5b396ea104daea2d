#include "runtime/container/cgroup_entry.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "common/error.h"

namespace vpcri::runtime::container {

CgroupEntry plan_cgroup_entry(const std::vector<std::string>& dirs) {
  CgroupEntry entry;
  for (const std::string& dir : dirs) {
    struct statfs fs {};
    if (::statfs(dir.c_str(), &fs) != 0) throw_errno("statfs cgroup directory " + dir);
    if (fs.f_type != CGROUP2_SUPER_MAGIC) {
      entry.v1_dirs.push_back(dir);
    } else if (entry.cgroup2_dir.empty()) {
      entry.cgroup2_dir = dir;
    } else {
      throw Error(Errc::invalid_argument, "more than one cgroup2 directory to join (" + entry.cgroup2_dir + ", " + dir + ")");
    }
  }
  return entry;
}

UniqueFd open_cgroup2_dir(const std::string& dir) {
  if (dir.empty()) return {};
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("open cgroup directory " + dir);
  return fd;
}

pid_t clone_into_cgroup(int cgroup2_dir) {
  clone_args args{};
  args.exit_signal = SIGCHLD;
  if (cgroup2_dir >= 0) {
    args.flags = CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup2_dir);
  }
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

}  // namespace vpcri::runtime::container

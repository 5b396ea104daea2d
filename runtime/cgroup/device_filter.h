// The device policy on cgroup2: a BPF_PROG_TYPE_CGROUP_DEVICE program, the same idea as runc's
// devicefilter, written as raw instructions (no compiler, no libbpf). The kernel asks it about
// every open/mknod of a device node by a task of the cgroup (also in hybrid mode, where the
// cgroup2 tree carries no controllers: the program runs in addition to the v1 devices cgroup).
#pragma once

#include <linux/bpf.h>

#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"
#include "runtime/cgroup/devices.h"

namespace vpcri::runtime::cgroup {

// The program: returns 1 (allow) when the access matches one rule of `allowed`, else 0.
// Rules are validated first (Error(invalid_argument)).
std::vector<bpf_insn> device_filter_program(const std::vector<DeviceRule>& allowed);

// A loaded program. The fd is closed on destruction; once attached the cgroup holds its own
// reference, so the program stays in force until the cgroup is removed and goes away with it.
class DeviceFilter {
 public:
  // Throws Error naming the kernel's reason (with the verifier's log when it rejects the program).
  explicit DeviceFilter(const std::vector<DeviceRule>& allowed);

  // Attaches to the cgroup2 directory `cgroup_dir` with BPF_F_ALLOW_MULTI (programs of the
  // parents, if any, keep running too: each can only deny more).
  void attach(const std::string& cgroup_dir) const;

  int fd() const { return fd_.get(); }

  // The loaded program for `allowed`, one per distinct policy, shared by every cgroup given it:
  // a load runs the verifier and the JIT (0.3 ms, plus IPIs to every CPU to patch kernel text,
  // and the same again when the program is freed), and nearly every pod and container gets the
  // default policy. Keeps the last few policies (each holds one fd).
  static std::shared_ptr<const DeviceFilter> shared(const std::vector<DeviceRule>& allowed);

 private:
  UniqueFd fd_;
};

}  // namespace vpcri::runtime::cgroup

#include "runtime/security/seccomp_load.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/error.h"

namespace vpcri::runtime::security {

// Without no_new_privs the kernel lets only a process with CAP_SYS_ADMIN load a filter (EACCES
// otherwise): a caller that does not set no_new_privs loads the filter before it drops its
// capabilities, as runc does, and the filter must then allow what it does until execve.
void load_filter(const std::string& bpf) {
  if (bpf.empty() || bpf.size() % sizeof(sock_filter) != 0 || bpf.size() / sizeof(sock_filter) > BPF_MAXINSNS) {
    throw Error(Errc::invalid_argument,
                "seccomp filter of " + std::to_string(bpf.size()) + " bytes is not a BPF program");
  }
  std::vector<sock_filter> prog(bpf.size() / sizeof(sock_filter));  // aligned for the kernel
  std::memcpy(prog.data(), bpf.data(), bpf.size());
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
    int err = errno;
    if (err == EACCES)
      throw Error(Errc::failed_precondition,
                  "loading the seccomp filter: no_new_privs is not set and the process lacks "
                  "CAP_SYS_ADMIN");
    throw_errno("loading the seccomp filter", err);
  }
}

}  // namespace vpcri::runtime::security

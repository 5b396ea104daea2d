// A streaming exec's process (kubectl exec): like ExecSync's, a child of vpcrid running
// vpcri-init with the container's namespaces, cgroup and security settings, but its stdio stays
// connected for the session's life: pipes, or a pty whose slave is its controlling terminal.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>

#include "common/fd.h"
#include "runtime/container/launch.h"
#include "runtime/container/spec.h"

namespace vpcri::runtime::container {

struct ExecIo {
  bool stdin = false;   // else /dev/null
  bool stdout = false;  // else /dev/null
  bool stderr = false;  // else /dev/null (with a tty, stderr goes to the tty)
  bool tty = false;
  unsigned short width = 0, height = 0;  // initial tty size (0: the kernel's default)
};

class ExecProcess {
 public:
  // Starts the process and returns once the user's command runs; a start failure (a missing
  // executable, ...) throws vpcri::Error with vpcri-init's reason. `ns_pidfd`: the container
  // process's pidfd, whose namespaces it joins (InitSpec::ns_pidfd); -1: the spec's paths.
  static std::unique_ptr<ExecProcess> start(const Binaries& bin, const InitSpec& spec, const ExecIo& io,
                                            int ns_pidfd = -1);
  // Kills what is left of it (its whole process group) and reaps it.
  ~ExecProcess();
  ExecProcess(const ExecProcess&) = delete;
  ExecProcess& operator=(const ExecProcess&) = delete;

  int stdin_fd() const { return tty_ ? master_.get() : stdin_.get(); }
  int stdout_fd() const { return tty_ ? master_.get() : stdout_.get(); }
  int stderr_fd() const { return tty_ ? -1 : stderr_.get(); }
  void close_stdin();
  int exit_fd() const { return pidfd_.get(); }  // readable once it ended
  int wait();                                   // exit code, 128 + signal if killed
  void resize(unsigned short width, unsigned short height);
  pid_t pid() const { return pid_; }

 private:
  ExecProcess() = default;
  pid_t pid_ = -1;
  bool tty_ = false;
  std::optional<int> exit_code_;
  UniqueFd pidfd_, stdin_, stdout_, stderr_, master_;
};

}  // namespace vpcri::runtime::container

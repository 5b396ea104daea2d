// A sealed in-memory copy of a helper binary that runs inside containers (vpcri-init), the
// defence runc adopted against CVE-2019-5736: a process in a container that gets hold of the
// running helper through /proc/<pid>/exe (or a `#!/proc/self/exe` script) reaches only this copy,
// which the kernel refuses to write, shrink or grow, and which is no file on the host at all.
#pragma once

#include <string>

#include "common/fd.h"

namespace vpcri::runtime::container {

class SealedBinary {
 public:
  // Copies the regular file at `path` into a memfd, seals it (F_SEAL_SEAL|SHRINK|GROW|WRITE) and
  // verifies the copy: every seal set, contents equal to the file's. Throws vpcri::Error naming
  // the step (e.g. the file is missing, or changed while it was copied).
  static SealedBinary copy_of(const std::string& path);

  // Close-on-exec: run it with execveat(fd(), "", ..., AT_EMPTY_PATH) in the process that needs
  // it, or hand it to one at a fixed number (vpcri-monitor --exec-fd).
  int fd() const { return fd_.get(); }
  const std::string& source() const { return source_; }

 private:
  SealedBinary(std::string source, UniqueFd fd) : source_(std::move(source)), fd_(std::move(fd)) {}
  std::string source_;
  UniqueFd fd_;
};

}  // namespace vpcri::runtime::container

// A helper binary that runs inside containers (vpcri-init), executed through a private read-only
// mount of its directory: the defence against CVE-2019-5736 that needs no copy. A process in a
// container that gets hold of the running helper through /proc/<pid>/exe (or a
// `#!/proc/self/exe` script) reaches the file through that mount, and the kernel refuses every
// open of it for writing there (EROFS). So no container can overwrite the host file, and no
// container can hold a writer on it either: a writer makes every exec of the file fail with
// ETXTBSY, which with a single shared copy (a sealed memfd still lets a writer open it) would stop
// every later start and exec on the node.
#pragma once

#include <string>

#include "common/fd.h"

namespace vpcri::runtime::container {

class ReadOnlyBinary {
 public:
  // Resolves `path` (symlinks included) to a regular executable file, clones the mount of its
  // directory as a detached mount (open_tree(OPEN_TREE_CLONE): in no mount namespace, so no
  // process sees it or can remount it), makes that read-only, nosuid and nodev
  // (mount_setattr), and opens the file beneath it. Verified: the same file as at `path`, on a
  // read-only mount. Throws vpcri::Error naming the step (the file is missing, is not a regular
  // executable file, or the kernel lacks open_tree/mount_setattr: Linux >= 5.12).
  static ReadOnlyBinary open(const std::string& path);

  // An O_PATH fd, close-on-exec: run it with execveat(fd(), "", ..., AT_EMPTY_PATH) in the
  // process that needs it, or hand it to one at a fixed number (vpcri-monitor --exec-fd).
  int fd() const { return file_.get(); }
  const std::string& source() const { return source_; }

 private:
  ReadOnlyBinary(std::string source, UniqueFd tree, UniqueFd file)
      : source_(std::move(source)), tree_(std::move(tree)), file_(std::move(file)) {}
  std::string source_;
  UniqueFd tree_;  // the detached mount: closing its last fd would unmount it
  UniqueFd file_;
};

}  // namespace vpcri::runtime::container

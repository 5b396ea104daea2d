// An exclusive flock(2) on a file, held for the life of the object. The kernel drops it when the
// process dies, so a crash never leaves a lock that blocks the next start.
#pragma once

#include <string>

#include "common/fd.h"

namespace vpcri::cri {

class LockFile {
 public:
  // Throws Errc::failed_precondition naming the holder's pid when another process holds it.
  LockFile(const std::string& path, const std::string& what);

 private:
  UniqueFd fd_;
};

}  // namespace vpcri::cri

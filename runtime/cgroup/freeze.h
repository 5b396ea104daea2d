// Freezing a cgroup subtree so its processes cannot fork while they are being signalled.
#pragma once

#include <chrono>
#include <string>

namespace vpcri::runtime::cgroup {

// Freezes while alive, thaws on destruction (errors then are logged, never thrown).
class FreezeGuard {
 public:
  enum class Kind { v1_freezer, v2_core };

  // v1: writes FROZEN to <dir>/freezer.state; v2: 1 to <dir>/cgroup.freeze. Then waits up to
  // `wait` for the kernel to report the subtree frozen (a task in uninterruptible sleep can
  // delay that); if it does not, carries on: a partly frozen cgroup is still signalled.
  // Without the freezer file (controller absent, kernel < 5.2 on v2) nothing is frozen.
  FreezeGuard(Kind kind, std::string dir, std::chrono::milliseconds wait = std::chrono::seconds(1));
  ~FreezeGuard();
  FreezeGuard(const FreezeGuard&) = delete;
  FreezeGuard& operator=(const FreezeGuard&) = delete;

  bool engaged() const { return engaged_; }     // the freeze was requested
  bool confirmed() const { return confirmed_; }  // the kernel reported the subtree frozen

 private:
  Kind kind_;
  std::string dir_;
  bool engaged_ = false;
  bool confirmed_ = false;
};

}  // namespace vpcri::runtime::cgroup

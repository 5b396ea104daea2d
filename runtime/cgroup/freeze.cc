#include "runtime/cgroup/freeze.h"

#include <algorithm>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "runtime/cgroup/files.h"

namespace vpcri::runtime::cgroup {
namespace {

bool is_frozen(FreezeGuard::Kind kind, const std::string& dir) {
  if (kind == FreezeGuard::Kind::v1_freezer) {
    auto words = split_words(read_cgroup_file(dir, "freezer.state"));
    return !words.empty() && words[0] == "FROZEN";
  }
  return flat_keyed_value(read_cgroup_file(dir, "cgroup.events"), "frozen").value_or(0) == 1;
}

}  // namespace

FreezeGuard::FreezeGuard(Kind kind, std::string dir, std::chrono::milliseconds wait)
    : kind_(kind), dir_(std::move(dir)) {
  const char* file = kind_ == Kind::v1_freezer ? "freezer.state" : "cgroup.freeze";
  if (!read_cgroup_file_if_exists(dir_, file)) return;
  write_cgroup_file(dir_, file, kind_ == Kind::v1_freezer ? "FROZEN" : "1");
  engaged_ = true;
  auto deadline = std::chrono::steady_clock::now() + wait;
  // A few tasks freeze in well under a millisecond: start polling fast (a flat 5 ms step made
  // every StopContainer and StopPodSandbox wait 5 ms), back off for a busy cgroup.
  for (auto pause = std::chrono::microseconds(50);; pause = std::min(pause * 2, std::chrono::microseconds(5000))) {
    if (is_frozen(kind_, dir_)) {
      confirmed_ = true;
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(pause);
  }
  log::warn("cgroup did not report frozen in time; signalling its processes anyway", {{"cgroup", dir_}});
}

FreezeGuard::~FreezeGuard() {
  if (!engaged_) return;
  try {
    write_cgroup_file(dir_, kind_ == Kind::v1_freezer ? "freezer.state" : "cgroup.freeze",
                      kind_ == Kind::v1_freezer ? "THAWED" : "0");
  } catch (const std::exception& e) {
    log::error("cannot thaw cgroup", {{"cgroup", dir_}, {"error", e.what()}});
  }
}

}  // namespace vpcri::runtime::cgroup

// Telling an OOM kill from a plain SIGKILL: the kernel counts OOM kills per memory cgroup, and
// a container monitor compares the count before and after its process died.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "common/fd.h"

namespace vpcri::runtime::cgroup {

// v1: sum of "oom_kill" in memory.oom_control over `memory_dir` and its descendants (v1 counts
// each kill only in the victim's own cgroup). nullopt when the kernel has no such counter (< 4.13).
std::optional<uint64_t> oom_kill_count_v1(const std::string& memory_dir);

// v2: "oom_kill" in memory.events (already includes descendants). nullopt without the memory
// controller.
std::optional<uint64_t> oom_kill_count_v2(const std::string& dir);

// A pollable fd (POLLIN) that becomes readable when the kernel reports memory trouble in a
// cgroup; the reader then checks oom_kill_count(). Owns its descriptors.
class OomWatch {
 public:
  // v1: an eventfd registered on memory.oom_control through cgroup.event_control. It also
  // fires once when the cgroup is removed.
  static OomWatch v1(const std::string& memory_dir);
  // v2: inotify on memory.events, which the kernel marks modified on every event it counts.
  static OomWatch v2(const std::string& dir);

  int fd() const { return fd_.get(); }
  // Drains pending notifications without blocking; true when there were any.
  bool consume();

 private:
  OomWatch(UniqueFd fd, bool is_inotify) : fd_(std::move(fd)), is_inotify_(is_inotify) {}
  UniqueFd fd_;
  bool is_inotify_;
};

}  // namespace vpcri::runtime::cgroup

// Naming a process that is not our child, safely: a pid alone may be recycled by the time we use
// it, so a process is named by pid plus start time, and acted on only through a pidfd opened and
// then checked against that start time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/fd.h"

namespace vpcri::runtime {

struct ProcessRef {
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/<pid>/stat field 22: clock ticks after boot
  bool operator==(const ProcessRef&) const = default;
};

// Start time of the running process `pid`; nullopt if there is none (or only its zombie).
std::optional<uint64_t> process_start_time(pid_t pid);

// True while the process `ref` names still runs (a recycled pid does not count).
bool is_running(const ProcessRef& ref);

// A pidfd for `ref`, or an empty fd if that process no longer runs. Checking the start time after
// opening proves the pidfd refers to `ref` (the pid cannot have been recycled while it ran).
UniqueFd open_pidfd(const ProcessRef& ref);

// pidfd_send_signal(2): false if the process has already exited; throws on other errors.
bool send_signal(int pidfd, int sig);

// True once the process of `pidfd` has ended (the pidfd polls readable), waiting up to `timeout`
// (0: just a look); throws vpcri::Error naming `what` if poll fails.
bool wait_for_exit(int pidfd, std::chrono::milliseconds timeout, const std::string& what);

}  // namespace vpcri::runtime

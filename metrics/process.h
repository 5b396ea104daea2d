// The daemon's own resource use as metrics: resident memory, open fds, threads (read from
// /proc/self at scrape time).
#pragma once

#include "metrics/registry.h"

namespace vpcri::metrics {

// Adds vpcri_process_resident_memory_bytes, vpcri_process_open_fds, vpcri_process_threads.
void collect_process(Collection& out);

// Resident memory of process `pid` in bytes (VmRSS); -1 if it is gone or unreadable.
double resident_memory_bytes(int pid);

}  // namespace vpcri::metrics

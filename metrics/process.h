// The daemon's own resource use as metrics: resident memory, open fds, threads (read from
// /proc/self at scrape time).
#pragma once

#include "metrics/registry.h"

namespace vpcri::metrics {

// Adds vpcri_process_resident_memory_bytes, vpcri_process_open_fds, vpcri_process_threads.
void collect_process(Collection& out);

}  // namespace vpcri::metrics

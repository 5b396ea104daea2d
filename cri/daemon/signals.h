// Stop-signal handling for vpcrid. Kept apart from the CRI headers on purpose: the generated
// runtime.v1 code has an enum `Signal` whose values (SIGTERM, ...) collide with <signal.h>'s
// macros (see cri/api/cri_api.h).
#pragma once

namespace vpcri::cri {

// Blocks SIGTERM and SIGINT (and ignores SIGPIPE). Call before any thread exists so that only
// wait_for_stop_signal() receives them.
void block_stop_signals();

// Waits for SIGTERM or SIGINT and returns its name.
const char* wait_for_stop_signal();

}  // namespace vpcri::cri

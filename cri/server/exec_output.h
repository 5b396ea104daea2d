// ExecSync's answer must fit one gRPC message: output beyond that is cut, never an error.
#pragma once

#include <cstddef>
#include <string>

namespace vpcri::cri {

// Room for stdout + stderr in an ExecSyncResponse of at most `max_message` bytes (the rest of
// the message: two length-delimited fields and the exit code, with margin).
size_t exec_output_budget(size_t max_message);

// Cuts the ends of `stdout_data` and `stderr_data` so that together they hold at most `budget`
// bytes: each keeps at least half the budget when it has that much, the other gets the rest.
// Returns how many bytes were cut (0: both untouched).
size_t fit_exec_output(std::string& stdout_data, std::string& stderr_data, size_t budget);

}  // namespace vpcri::cri

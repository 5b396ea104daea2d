// Crash failpoints for the crash-consistency tests: with VPCRI_FAILPOINT=<name> in its
// environment, the process SIGKILLs itself when it reaches failpoint("<name>"). Always compiled
// (a string compare per step), inert without the variable; the name is read once, at first use.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace vpcri {

void failpoint(std::string_view name);

// fs::write_file_atomic that reaches failpoint(`failpoint_before_rename`) with the temp file
// complete and synced, before the rename (a crash test's "half-written file"); defined in fs.cc.
void write_file_atomic_with_failpoint(const std::string& path, std::string_view data, mode_t mode,
                                      std::string_view failpoint_before_rename);

}  // namespace vpcri

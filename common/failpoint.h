// Crash failpoints for the crash-consistency tests: with VPCRI_FAILPOINT=<name> in its
// environment, the process SIGKILLs itself when it reaches failpoint("<name>"). Always compiled
// (a string compare per step), inert without the variable; the name is read once, at first use.
#pragma once

#include <string_view>

namespace vpcri {

void failpoint(std::string_view name);

}  // namespace vpcri

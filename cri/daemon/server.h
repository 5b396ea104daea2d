// Runs vpcrid: takes the locks, serves CRI on the unix socket until SIGTERM/SIGINT, then stops
// gracefully and removes the socket.
#pragma once

#include "cri/config/config.h"

namespace vpcri::cri {

// Returns the process exit code.
int run_daemon(const Config& config);

}  // namespace vpcri::cri

// Server side of kubectl exec / attach over SPDY (remotecommand, channel.k8s.io v1-v4): the client
// opens error, stdin, stdout, stderr and resize streams; once all the request asked for are there
// the process starts, its output flows back, and its exit ends on the error stream.
#pragma once

#include <string>
#include <vector>

#include "cri/streaming/connection.h"
#include "cri/streaming/session.h"

namespace vpcri::streaming {

// Most preferred first, as the kubelet library.
const std::vector<std::string>& remote_command_protocols();  // v4, v3, v2, channel.k8s.io

// The v4 status JSON for an exit code (Success, or Failure NonZeroExitCode with the code).
std::string exit_status_json(int exit_code);
// The v4 status JSON for an error that kept the command from running (InternalError, 500).
std::string internal_error_json(const std::string& message);

void run_remote_command(Connection& conn, const Request& request, const std::string& protocol,
                        const SessionLimits& limits);

}  // namespace vpcri::streaming

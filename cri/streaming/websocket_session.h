// Exec and attach over WebSocket (the kubelet library's channel protocols): every message is a
// channel byte and its data (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize), binary, or for
// the base64 protocols a text message '0'+channel followed by standard base64. v5 adds the
// message [255, channel] that closes a channel (stdin EOF). v4 and v5 put the v4 status JSON on
// the error channel; older ones plain text on failure only.
#pragma once

#include <string>
#include <vector>

#include "common/fd.h"
#include "cri/streaming/session.h"

namespace vpcri::streaming {

// Sec-WebSocket-Protocol values we serve for exec/attach, most preferred first.
const std::vector<std::string>& websocket_remote_command_protocols();

// Runs the session on an upgraded socket (`already_read`: bytes behind the request head).
// `protocol` is the one negotiated ("" when the client offered none: channel.k8s.io).
void run_websocket_remote_command(UniqueFd socket, std::string already_read, const Request& request,
                                  const std::string& protocol, const SessionLimits& limits);

}  // namespace vpcri::streaming

// Port forwarding over WebSocket, as the kubelet library serves it: the ports come from the URL's
// `port` query parameters (fixed for the session); port i has channel 2i (data, both ways) and
// 2i+1 (errors, to the client); the server's first message on each channel is the port, 2 bytes
// little-endian. One TCP connection per port into the pod; the session ends when all have ended.
// (SPDY/3.1+portforward.k8s.io, the other WebSocket port forward, is websocket_tunnel.h.)
#pragma once

#include <string>
#include <vector>

#include "common/fd.h"
#include "cri/streaming/session.h"

namespace vpcri::streaming {

// Sec-WebSocket-Protocol values we serve for port forwarding, most preferred first ("" when the
// client offers none means the binary channel protocol).
const std::vector<std::string>& websocket_port_forward_protocols();

// The ports of a request target's `port` query parameters (each may be a comma-separated list).
// Throws http::HttpError 400 when there is none, or one is not 1..65535, or there are too many.
std::vector<uint16_t> websocket_port_forward_ports(const std::string& target);

// Runs a channel-protocol session on an upgraded socket (`already_read`: bytes behind the head).
void run_websocket_port_forward(UniqueFd socket, std::string already_read, const Request& request,
                                const std::string& protocol, const std::vector<uint16_t>& ports,
                                const SessionLimits& limits);

}  // namespace vpcri::streaming

// Server side of port forwarding over SPDY (portforward.k8s.io): per forwarded TCP connection the
// client opens an error and a data stream with the same requestid; the data stream is relayed to
// a connection to localhost:<port> in the pod's network namespace.
#pragma once

#include "cri/streaming/connection.h"
#include "cri/streaming/session.h"

namespace vpcri::streaming {

constexpr const char* kPortForwardProtocol = "portforward.k8s.io";

void run_port_forward(Connection& conn, const Request& request, const SessionLimits& limits);

}  // namespace vpcri::streaming

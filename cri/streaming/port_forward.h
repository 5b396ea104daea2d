// Server side of port forwarding over SPDY (portforward.k8s.io): per forwarded TCP connection the
// client opens an error and a data stream with the same requestid; the data stream is relayed to
// a connection to localhost:<port> in the pod's network namespace. PodSocket is that connection,
// shared with the WebSocket port forward (websocket_port_forward.h).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "cri/streaming/connection.h"
#include "cri/streaming/session.h"

namespace vpcri::streaming {

constexpr const char* kPortForwardProtocol = "portforward.k8s.io";

void run_port_forward(Connection& conn, const Request& request, const SessionLimits& limits);

// A port number as the kubelet library reads one: decimal, 1..65535.
std::optional<uint16_t> parse_port(const std::string& s);

// One forwarded TCP connection into the pod, non-blocking: bytes for the pod wait in `to_pod`
// until it takes them; the pod's EOF or reset just ends it (never error text, which would end
// the client's whole session).
struct PodSocket {
  UniqueFd fd;
  std::string to_pod;       // received from the client, not yet written
  bool write_shut = false;  // the client's EOF was passed on
  bool done = false;        // the pod closed its side (or the connection broke)
  std::chrono::steady_clock::time_point done_at;

  // Dials `port` through the request's closure. On failure returns false with the text the
  // client gets on its error stream ("error forwarding port P to pod ID, uid : why").
  bool dial(const Request& request, uint16_t port, std::string& error);
  // Reads what the pod sent (call when poll says readable): bytes, or 0 with `done` set at its
  // end, or 0 when nothing is there yet.
  size_t read(char* buf, size_t size);
  // Writes what it can of `to_pod`; once that is empty and `client_done`, shuts the write side.
  void flush(bool client_done);
};

}  // namespace vpcri::streaming

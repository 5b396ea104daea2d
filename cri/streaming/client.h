// The client side of the streaming protocols (vpcrictl exec/attach/port-forward and the tests):
// the HTTP upgrade to SPDY/3.1, then the exec and port forward stream layouts client-go uses.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cri/streaming/connection.h"
#include "cri/streaming/http.h"
#include "cri/streaming/session.h"

namespace vpcri::streaming {

struct Upgraded {
  std::unique_ptr<Connection> conn;
  std::string protocol;  // the server's choice
};

// A connection to an `http://HOST:PORT/PATH` URL (TCP) or an `https://` one (TLS as
// tls::set_client_options says, through tls::connect); `path` and `host_port` from it.
UniqueFd dial_url(const std::string& url, std::string& path, std::string& host_port);
// The resize message for a size: {"Width":W,"Height":H} and a newline.
std::string size_json(WindowSize size);

// Reads the answer to an upgrade request: the 101's head (bytes behind it in `rest`), or throws
// vpcri::Error with the status and the server's text.
http::Message read_upgrade_response(int fd, std::string& rest);

// Connects to an `http://HOST:PORT/...` (or `https://`) URL and upgrades. Throws vpcri::Error naming the HTTP
// status and the server's text when the server refuses.
Upgraded upgrade(const std::string& url, const std::vector<std::string>& protocols);

struct ExecClientIo {
  int in = -1;   // read until EOF, then stdin is half-closed; -1: no stdin stream
  int out = -1;  // -1: no stdout stream
  int err = -1;  // -1: no stderr stream (always none with a tty)
  bool tty = false;
  std::optional<WindowSize> size;                // sent first on the resize stream (tty)
  int resize_fd = -1;                            // readable: call `current_size` and send it
  std::optional<WindowSize> (*current_size)() = nullptr;
};

struct ExecOutcome {
  int exit_code = 0;
  std::string status;  // the error stream's text (v4: metav1.Status JSON)
};

// Runs an exec or attach session to its end. The exit code comes from the v4 status (an error
// status that carries none gives 1, as kubectl).
ExecOutcome run_exec_client(Connection& conn, const std::string& protocol, const ExecClientIo& io);

// The same session over WebSocket (offering v5.channel.k8s.io, v4.channel.k8s.io,
// channel.k8s.io): connects to `url` itself; stdin EOF is sent as v5's [255, 0].
ExecOutcome run_websocket_exec_client(const std::string& url, const ExecClientIo& io);

// The exit code in a v4 status JSON: 0 for Success, the ExitCode cause, else 1.
int exit_code_of_status(const std::string& status);

// Forwards every connection accepted on each listening socket to its remote port, until
// `stop_fd` is readable or the server ends the connection. Returns why it ended.
std::string run_port_forward_client(Connection& conn, const std::vector<std::pair<int, uint16_t>>& listeners,
                                    int stop_fd);

}  // namespace vpcri::streaming

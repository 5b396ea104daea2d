// Test-only helpers for the datapath tests: run a command and capture its output, query a
// namespace with `ip -j`, and a node + pods testbed made of namespaces the test owns.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "net/datapath/named_netns.h"
#include "net/datapath/netns.h"

namespace vpcri::net::testing {

struct CommandResult {
  int exit_code = -1;  // 128+signal if killed
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv (no shell) with `input` on stdin; kills it after 30 s so a hung tool cannot hang the suite.
CommandResult run(const std::vector<std::string>& argv, std::string_view input = {});
// Like run(), but throws with the output if the exit code is not 0.
std::string run_ok(const std::vector<std::string>& argv, std::string_view input = {});

// `ip -j -n <netns> <args...>` parsed.
nlohmann::json ip_json(const std::string& netns, const std::vector<std::string>& args);

// `nsenter --net=/run/netns/<netns> <argv...>`.
std::vector<std::string> in_netns(const std::string& netns, std::vector<std::string> argv);

// A TCP socket listening on port `port` (any address) inside `ns`; the kernel completes
// handshakes without accept().
UniqueFd tcp_listen_in(const NetNs& ns, uint16_t port);
// Connects from inside `ns` to dst:port; true once the handshake completes within `timeout_ms`.
bool tcp_connect_from(const NetNs& ns, const std::string& dst, uint16_t port, int timeout_ms = 4000);

// 8 random hex characters for unique namespace names.
std::string random_tag();

}  // namespace vpcri::net::testing

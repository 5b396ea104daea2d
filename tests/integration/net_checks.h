// Network checks shared by the tests that run pods with networking (tests/integration/network_test,
// tests/aws/cluster_test): commands inside a netns, ping, a TCP server that reports the peer it
// saw (no NAT means it sees the sender's own IP), the pod's IP / netns and NetworkReady.
#pragma once

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "tests/integration/daemon_fixture.h"

namespace vpcri::test {

inline const std::string kIp = "/usr/sbin/ip";
inline const std::string kNsenter = "/usr/bin/nsenter";
inline const std::string kBusybox = "/bin/busybox";

bool contains(const std::string& text, const std::string& part);
// Runs argv; the test fails (REQUIRE) unless it exits 0.
void run_ok(const std::vector<std::string>& argv);
// argv prefixed with `nsenter --net=<path>` (never `ip netns exec`: the mounts stay as they are).
std::vector<std::string> in_netns(const std::string& path, std::vector<std::string> argv);

bool ping(const std::string& from_netns, const std::string& to);

// A one-connection TCP server in `netns` on `port`: answers with what it got and reports the
// peer's address (what the receiving pod sees as the source).
class TcpServer {
 public:
  TcpServer(const std::string& netns, int port);
  // The peer address the server saw.
  std::string peer();

 private:
  TempDir ready_;
  std::future<RunResult> result_;
};

// Sends "hello-vpcri" with busybox nc from `netns` and returns what came back.
std::string nc_send(const std::string& netns, const std::string& ip, int port);

runtime::v1::PodSandboxConfig pod_config(const std::string& name);
std::string pod_ip(Daemon& d, const std::string& id);
std::string pod_netns(Daemon& d, const std::string& id);  // path of the pod's network namespace

runtime::v1::RuntimeCondition network_condition(Daemon& d);
// Polls Status until NetworkReady is true (up to `timeout`).
bool wait_network_ready(Daemon& d, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace vpcri::test

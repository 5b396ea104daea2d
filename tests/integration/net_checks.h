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

inline constexpr const char* kNodeIp = "192.168.50.1";
inline constexpr const char* kOutsideIp = "192.168.50.2";

// A node namespace with up0 (192.168.50.1/24, default route via the outside) and an outside
// namespace routing 10.99.0.0/24 (the tests' pod range) to the node; both deleted at the end.
class NodeNet {
 public:
  NodeNet();
  ~NodeNet();
  NodeNet(const NodeNet&) = delete;
  NodeNet& operator=(const NodeNet&) = delete;
  std::string node_path() const { return "/run/netns/" + node_; }
  std::string outside_path() const { return "/run/netns/" + outside_; }
  // stdout + stderr of argv run in the node namespace.
  std::string node_cmd(std::vector<std::string> argv) const;
  // The node's links named eni* (vpcri's host veths).
  std::vector<std::string> eni_links() const;

 private:
  static void ip(const std::string& ns, std::vector<std::string> args);
  std::string tag_, node_, outside_;
};

runtime::v1::PodSandboxConfig pod_config(const std::string& name);
std::string pod_ip(Daemon& d, const std::string& id);
std::string pod_netns(Daemon& d, const std::string& id);  // path of the pod's network namespace

runtime::v1::RuntimeCondition network_condition(Daemon& d);
// Polls Status until NetworkReady is true (up to `timeout`).
bool wait_network_ready(Daemon& d, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace vpcri::test

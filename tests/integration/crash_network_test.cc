// Crash consistency of pod networking: vpcrid with the local provider inside a test node
// namespace (NodeNet) is SIGKILLed at every failpoint of IPAM and the pod datapath, and under a
// SIGKILL churn; kubelet's retries and the CRI then remove everything. On the node nothing may be
// left (eni* host veths, routes to pod IPs, ip rules, nftables rules, IPAM allocations, temp
// files of the checkpoint) and no IP may ever be held by two live pods. The pod range is small
// and IPs have no cooldown, so a wrongly released IP is handed out again at once.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/fs.h"
#include "tests/integration/crash_support.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/net_checks.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPodPrefix = "10.99.0.";  // NodeNet's pod range; the node uses its first /27

// Every failpoint where a crash leaves pod networking in a different state, in the order a
// pod's life reaches them.
const std::vector<std::string> kNetworkFailpoints = {
    "ipam.checkpoint_temp.allocate",  // the allocation's checkpoint written to a temp file only
    "ipam.allocated",                 // allocation checkpointed, no veth yet
    "network.veth_created",           // veth and route exist, no host ports, no pod record with the IP
    "run_pod.network",                // attached, the pod record not saved with its IP
    "stop_pod.begin",
    "network.datapath_removed",       // veth, routes and host ports gone, the IP still allocated
    "ipam.checkpoint_temp.release",   // the release's checkpoint written to a temp file only
    "ipam.released",                  // release checkpointed, the pod record still names the IP
    "remove_pod.torn_down",
};

// Those of them inside RunPodSandbox.
const std::set<std::string> kRunPodFailpoints = {"ipam.checkpoint_temp.allocate", "ipam.allocated",
                                                 "network.veth_created", "run_pod.network"};

std::string network_config() {
  return pods_config_yaml() + "network:\n  node_range: 10.99.0.0/27\n  cooldown_seconds: 0\n  mtu: 1500\n";
}

// What pod networking holds on the node.
struct NodeState {
  std::vector<std::string> veths;       // eni* host veths
  std::vector<std::string> pod_routes;  // routes to one pod IP, any table
  std::string rules;                    // `ip rule show`
  std::string nft;                      // vpcri's nftables table
};

NodeState node_state(const NodeNet& node) {
  NodeState s;
  s.veths = node.eni_links();
  RunResult routes = run(in_netns(node.node_path(), {kIp, "-j", "-4", "route", "show", "table", "all"}));
  REQUIRE_MESSAGE(routes.exit_code == 0, routes.err);
  for (const auto& r : nlohmann::json::parse(routes.out)) {
    const std::string dst = r.value("dst", "");
    if (dst.starts_with(kPodPrefix) && dst.find('/') == std::string::npos) {
      s.pod_routes.push_back(dst + " dev " + r.value("dev", "") + " table " + r.value("table", "main"));
    }
  }
  s.rules = node.node_cmd({kIp, "rule", "show"});
  s.nft = node.node_cmd({"nft", "list", "table", "ip", "vpcri"});
  return s;
}

// Lines of `now` that `before` does not have.
int extra_lines(const std::string& now, const std::string& before) {
  std::multiset<std::string> old;
  std::istringstream b(before), n(now);
  std::string line;
  while (std::getline(b, line)) old.insert(line);
  int extra = 0;
  while (std::getline(n, line)) {
    if (auto it = old.find(line); it != old.end()) {
      old.erase(it);
    } else {
      MESSAGE("left: " << line);
      ++extra;
    }
  }
  return extra;
}

// Sandbox ids the IPAM checkpoint holds an allocation for.
std::set<std::string> checkpoint_allocations(Daemon& d) {
  std::set<std::string> ids;
  const std::string path = d.root() + "/network/ipam.json";
  if (!stdfs::exists(path)) return ids;
  const auto checkpoint = nlohmann::json::parse(vpcri::fs::read_file(path));
  for (const auto& a : checkpoint.at("allocations")) {
    ids.insert(a.at("sandbox_id").get<std::string>());
  }
  return ids;
}

// Temp files of interrupted checkpoint writes.
int checkpoint_temp_files(Daemon& d) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(d.root() + "/network", ec)) {
    if (vpcri::fs::is_temp_file_name(e.path().filename().string())) {
      MESSAGE("left: " << e.path().string());
      ++n;
    }
  }
  return n;
}

// Pods alive (from a READY answer until their first StopPodSandbox) by IP: a second live pod on
// one IP is a duplicate.
class IpLedger {
 public:
  // Records the pod's IP (PodSandboxStatus).
  grpc::Status ready(Daemon& d, const std::string& pod_id) {
    v1::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(pod_id);
    v1::PodSandboxStatusResponse resp;
    grpc::Status s = d.runtime().PodSandboxStatus(context().get(), req, &resp);
    if (!s.ok()) return s;
    const std::string ip = resp.status().network().ip();
    std::lock_guard lock(mu_);
    if (ip_by_pod_.count(pod_id)) return s;
    if (ip.empty()) {
      MESSAGE("READY pod without an IP: " << pod_id);
      ++without_ip_;
      return s;
    }
    if (auto it = pod_by_ip_.find(ip); it != pod_by_ip_.end()) {
      MESSAGE("IP " << ip << " held by two live pods: " << it->second << " and " << pod_id);
      ++duplicates_;
    }
    pod_by_ip_[ip] = pod_id;
    ip_by_pod_[pod_id] = ip;
    ++pods_;
    return s;
  }
  void stopping(const std::string& pod_id) {
    std::lock_guard lock(mu_);
    auto it = ip_by_pod_.find(pod_id);
    if (it == ip_by_pod_.end()) return;
    if (pod_by_ip_[it->second] == pod_id) pod_by_ip_.erase(it->second);
    ip_by_pod_.erase(it);
  }
  std::string ip_of(const std::string& pod_id) const {
    std::lock_guard lock(mu_);
    auto it = ip_by_pod_.find(pod_id);
    return it == ip_by_pod_.end() ? "" : it->second;
  }
  int duplicates() const { return locked(duplicates_); }
  int without_ip() const { return locked(without_ip_); }
  int pods() const { return locked(pods_); }

 private:
  int locked(const int& count) const {
    std::lock_guard lock(mu_);
    return count;
  }
  mutable std::mutex mu_;
  std::map<std::string, std::string> pod_by_ip_, ip_by_pod_;
  int duplicates_ = 0, without_ip_ = 0, pods_ = 0;
};

// A pod without containers (networking is the pod's) with one host port, tracked by `ledger`.
PodSyncOptions network_pod(Daemon& d, IpLedger& ledger, int host_port) {
  PodSyncOptions o;
  o.with_container = false;
  o.configure = [host_port](v1::PodSandboxConfig& c) {
    auto* port = c.add_port_mappings();
    port->set_protocol(v1::TCP);
    port->set_container_port(8080);
    port->set_host_port(host_port);
  };
  o.on_ready = [&d, &ledger](const std::string& id) { return ledger.ready(d, id); };
  o.on_stopping = [&ledger](const std::string& id) { ledger.stopping(id); };
  return o;
}

void start_networked(Daemon& d, const std::string& failpoint = "") {
  start_daemon(d, failpoint, network_config());
  // The reason is read first: doctest evaluates a message lazily, inside its reporter's lock.
  const bool ready = wait_network_ready(d);
  const std::string reason = ready ? "" : network_condition(d).message();
  REQUIRE_MESSAGE(ready, reason);
}

// Every pod of `d` stopped and removed through the CRI (best effort: a failed test leaves no pod).
void remove_all_pods(Daemon& d) {
  v1::ListPodSandboxResponse pods;
  if (!d.runtime().ListPodSandbox(context().get(), {}, &pods).ok()) return;
  for (const auto& p : pods.items()) {
    stop_pod(d, p.id());
    remove_pod(d, p.id());
  }
}

// Leaks on the node against `clean` (the node before any pod), by kind.
std::map<std::string, int> network_leftovers(Daemon& d, const NodeNet& node, const NodeState& clean) {
  const NodeState now = node_state(node);
  for (const auto& v : now.veths) MESSAGE("left veth: " << v);
  for (const auto& r : now.pod_routes) MESSAGE("left route: " << r);
  for (const auto& id : checkpoint_allocations(d)) MESSAGE("left allocation: " << id);
  return {{"veths", static_cast<int>(now.veths.size())},
          {"routes", static_cast<int>(now.pod_routes.size())},
          {"rules", extra_lines(now.rules, clean.rules)},
          {"nft_rules", extra_lines(now.nft, clean.nft)},
          {"ipam_allocations", static_cast<int>(checkpoint_allocations(d).size())},
          {"checkpoint_temp_files", checkpoint_temp_files(d)}};
}

// A node namespace with vpcrid running in it, networking ready; `clean` is the node before any pod.
struct NetworkedNode {
  NetworkedNode() {
    d.set_netns(node.node_path());
    start_networked(d);
    clean = node_state(node);
  }
  ~NetworkedNode() {
    try {
      if (!d.running()) start_daemon(d, "", network_config());
      remove_all_pods(d);
    } catch (const std::exception& e) {
      MESSAGE("cleaning up: " << e.what());
    }
  }
  NetworkedNode(const NetworkedNode&) = delete;
  NetworkedNode& operator=(const NetworkedNode&) = delete;
  NodeNet node;
  Daemon d;
  NodeState clean;
  IpLedger ledger;
};

}  // namespace

TEST_CASE("pod networking: vpcrid SIGKILLed at every network failpoint; retried, nothing leaks, no IP is doubled") {
  NetworkedNode n;
  const NodeNet& node = n.node;
  Daemon& d = n.d;
  IpLedger& ledger = n.ledger;
  std::set<std::string> ids;
  // A bystander lives through every crash: each restart must keep its IP, veth, route and host
  // port, and never hand its IP to the crashed pod's retry.
  grpc::Status s = sync_pod(d, "bystander", false, &ids, network_pod(d, ledger, 18081));
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  REQUIRE(ids.size() == 1);
  const std::string bystander = *ids.begin();
  const std::string bystander_ip = ledger.ip_of(bystander);
  REQUIRE(bystander_ip.starts_with(kPodPrefix));
  const NodeState with_bystander = node_state(node);
  REQUIRE(with_bystander.veths.size() == 1);
  REQUIRE(with_bystander.pod_routes.size() == 1);
  d.stop(SIGKILL);

  for (const std::string& failpoint : kNetworkFailpoints) {
    CAPTURE(failpoint);

    start_networked(d, failpoint);
    s = sync_pod(d, "fp", true, &ids, network_pod(d, ledger, 18080));
    CHECK_FALSE(s.ok());
    CHECK(d.log().find("failpoint " + failpoint + " reached") != std::string::npos);
    d.stop(SIGKILL);
    collect_ids(d, &ids);
    start_networked(d);
    CHECK(checkpoint_temp_files(d) == 0);
    if (kRunPodFailpoints.count(failpoint)) {
      // A RunPodSandbox cut short was rolled back whole by the restart, before any retry (which
      // reuses the pod's veth name and so could hide a leftover).
      const NodeState restarted = node_state(node);
      CHECK(restarted.veths == with_bystander.veths);
      CHECK(restarted.pod_routes == with_bystander.pod_routes);
      CHECK(extra_lines(restarted.nft, with_bystander.nft) == 0);
      CHECK(checkpoint_allocations(d) == std::set<std::string>{bystander});
    }
    // Retried as kubelet does: the pod comes up, then goes through the CRI.
    s = sync_pod(d, "fp", false, &ids, network_pod(d, ledger, 18080));
    CHECK_MESSAGE(s.ok(), s.error_message());
    CHECK(pod_ip(d, bystander) == bystander_ip);
    s = sync_pod(d, "fp", true, &ids, network_pod(d, ledger, 18080));
    CHECK_MESSAGE(s.ok(), s.error_message());
    collect_ids(d, &ids);
    // Only the bystander's networking is left.
    const NodeState now = node_state(node);
    CHECK(now.veths == with_bystander.veths);
    CHECK(now.pod_routes == with_bystander.pod_routes);
    CHECK(extra_lines(now.rules, with_bystander.rules) == 0);
    CHECK(extra_lines(now.nft, with_bystander.nft) == 0);
    CHECK(extra_lines(with_bystander.nft, now.nft) == 0);  // the bystander's host port is still there
    CHECK(checkpoint_allocations(d) == std::set<std::string>{bystander});
    CHECK(checkpoint_temp_files(d) == 0);
    // Killed while idle too (a graceful stop with networking takes seconds, a crash none).
    d.stop(SIGKILL);
  }

  start_networked(d);
  s = sync_pod(d, "bystander", true, &ids, network_pod(d, ledger, 18081));
  CHECK_MESSAGE(s.ok(), s.error_message());
  d.stop(SIGTERM);
  for (const auto& [kind, count] : network_leftovers(d, node, n.clean)) CHECK_MESSAGE(count == 0, kind << ": " << count);
  for (const auto& [kind, count] : leftovers(d, ids)) CHECK_MESSAGE(count == 0, kind << ": " << count);
  CHECK(ledger.duplicates() == 0);
  CHECK(ledger.without_ip() == 0);
}

TEST_CASE("SIGKILL churn with pod networking: no IP held twice, no veth, route, rule or allocation leaked") {
  const int cycles = env_int("VPCRI_NET_CHURN_CYCLES", 24);
  const int kills = env_int("VPCRI_NET_CHURN_KILLS", 5);
  NetworkedNode n;
  const NodeNet& node = n.node;
  Daemon& d = n.d;
  IpLedger& ledger = n.ledger;
  const ChurnResult churn = run_churn(
      d, 2, cycles, kills,
      [&](int worker, int cycle, std::set<std::string>* ids) {
        // Each pod its own host port, so its nftables chain is its own.
        return sync_pod(d, "netchurn-" + std::to_string(worker) + "-" + std::to_string(cycle), true, ids,
                        network_pod(d, ledger, 20000 + worker * 5000 + cycle));
      },
      [&] { start_networked(d); });
  d.stop(SIGTERM);
  auto left = network_leftovers(d, node, n.clean);
  left.merge(leftovers(d, churn.ids));
  std::string summary;
  for (const auto& [kind, count] : left) summary += " " + kind + "=" + std::to_string(count);
  MESSAGE("network churn: cycles=" << churn.cycles << " kills=" << churn.kills
                                   << " failed_requests=" << churn.failed_requests << " pods=" << ledger.pods()
                                   << " duplicate_ips=" << ledger.duplicates()
                                   << " ready_without_ip=" << ledger.without_ip() << " leaks:" << summary);
  CHECK(churn.cycles >= cycles);
  CHECK(churn.kills == kills);
  CHECK(ledger.duplicates() == 0);
  CHECK(ledger.without_ip() == 0);
  for (const auto& [kind, count] : left) CHECK_MESSAGE(count == 0, kind << ": " << count);
}

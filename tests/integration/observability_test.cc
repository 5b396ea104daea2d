// The real vpcrid's /metrics and introspection API, scraped during pod churn inside a test node
// namespace (NodeNet, as network_test does: the endpoints' default addresses are the node's own
// loopback there), and checked against what the CRI reports.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <regex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "common/fd.h"
#include "common/fs.h"
#include "metrics/http_client.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/net_checks.h"
#include "tests/integration/pods.h"
#include "tests/integration/scrape.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kMetrics = kMetricsAddress;
const std::string kIntrospection = kIntrospectionAddress;

// Runs `fn` on a thread of its own that joins `netns` (setns is per thread).
template <class F>
auto run_in(const std::string& netns, F fn) {
  return std::async(std::launch::async, [&] {
           vpcri::UniqueFd ns(::open(netns.c_str(), O_RDONLY | O_CLOEXEC));
           if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) throw std::runtime_error("setns " + netns);
           return fn();
         }).get();
}

Scrape scrape(const NodeNet& node) { return vpcri::test::scrape(node.node_path()); }
json introspect(const NodeNet& node, const std::string& path) { return vpcri::test::introspect(node.node_path(), path); }

std::vector<v1::PodSandbox> list_pods(Daemon& d) {
  v1::ListPodSandboxRequest req;
  v1::ListPodSandboxResponse resp;
  auto s = d.runtime().ListPodSandbox(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return {resp.items().begin(), resp.items().end()};
}

int containers_in_state(Daemon& d, v1::ContainerState state) {
  v1::ListContainersRequest req;
  v1::ListContainersResponse resp;
  auto s = d.runtime().ListContainers(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  int n = 0;
  for (const auto& c : resp.containers()) n += c.state() == state;
  return n;
}

// Up to three cells after `cell` in the table row that has it; none if no row has it.
std::vector<std::string> row_with(const std::string& table, const std::string& cell) {
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream cells(line);
    std::vector<std::string> row;
    for (std::string c; cells >> c;) row.push_back(c);
    auto it = std::find(row.begin(), row.end(), cell);
    if (it != row.end()) return {it + 1, it + 1 + std::min<long>(3, row.end() - it - 1)};
  }
  return {};
}

const std::string kRunOk = "vpcri_cri_requests_total{rpc=\"RunPodSandbox\",code=\"OK\"}";

// The metrics and the introspection views agree with the CRI's own answers.
void check_against_cri(Daemon& d, const NodeNet& node) {
  Scrape m = scrape(node);
  auto pods = list_pods(d);
  int ready = 0, notready = 0;
  for (const auto& p : pods) (p.state() == v1::SANDBOX_READY ? ready : notready)++;
  CHECK(m.at("vpcri_pod_sandboxes{state=\"ready\"}") == ready);
  CHECK(m.at("vpcri_pod_sandboxes{state=\"notready\"}") == notready);
  CHECK(m.at("vpcri_containers{state=\"running\"}") == containers_in_state(d, v1::CONTAINER_RUNNING));
  CHECK(m.at("vpcri_containers{state=\"exited\"}") == containers_in_state(d, v1::CONTAINER_EXITED));
  // Every ready pod holds one IP, nobody else does.
  CHECK(m.at("vpcri_ipam_ips_assigned") == ready);
  CHECK(m.at("vpcri_ipam_ips") >= m.at("vpcri_ipam_ips_assigned") + m.at("vpcri_ipam_ips_cooling"));
  CHECK(m.at("vpcri_ipam_enis") >= 1);
  CHECK(m.at("vpcri_ipam_enis") <= m.at("vpcri_ipam_enis_max"));
  CHECK(m.at("vpcri_ipam_ready") == 1);
  {  // the warm-pool shortfall under the default WARM_ENI_TARGET=1, from the same scrape's counts
    json ipam = introspect(node, "/v1/ipam");
    REQUIRE(ipam["targets"]["warm_eni_target"] == 1);
    REQUIRE(ipam["targets"]["warm_ip_target"] == 0);
    const double per_eni = ipam["actual"]["pod_ips_per_eni"].get<double>();
    const double free_ips = m.at("vpcri_ipam_ips") - m.at("vpcri_ipam_ips_assigned");
    double expected = std::max(per_eni - free_ips, 0.0);
    if (const int max_pods = ipam["targets"]["max_pods"]; max_pods > 0) {
      expected = std::min(expected, std::max(max_pods - m.at("vpcri_ipam_ips"), 0.0));
    }
    CHECK(m.at("vpcri_ipam_warm_shortfall_ips") == expected);
    CHECK(ipam["warm_shortfall"].is_number_integer());
  }

  // /v1/pods and /v1/enis name the IP PodSandboxStatus reports, and who holds it.
  json pod_view = introspect(node, "/v1/pods");
  json eni_view = introspect(node, "/v1/enis");
  std::map<std::string, json> by_id;
  for (const auto& p : pod_view) by_id[p["id"].get<std::string>()] = p;
  std::map<std::string, std::string> holder_of;  // ip -> sandbox
  for (const auto& eni : eni_view) {
    for (const auto& ip : eni["ips"]) {
      if (ip["state"] == "assigned") holder_of[ip["ip"].get<std::string>()] = ip["sandbox_id"].get<std::string>();
    }
  }
  CHECK(pod_view.size() == pods.size());
  CHECK(static_cast<int>(holder_of.size()) == ready);
  for (const auto& p : pods) {
    REQUIRE(by_id.contains(p.id()));
    const json& view = by_id[p.id()];
    std::string ip = pod_status(d, p.id()).status().network().ip();
    CHECK(view.value("ip", "") == ip);
    if (p.state() == v1::SANDBOX_READY) {
      REQUIRE(!ip.empty());
      CHECK(holder_of[ip] == p.id());
      CHECK(view.value("eni", json()).is_string());
      // The local provider's virtual ENIs are not interfaces: its pods route through the main table.
      CHECK(view.value("route_table", json()) == json("main"));
      std::string veth = view.value("host_veth", "");
      auto links = node.eni_links();
      CHECK(std::find(links.begin(), links.end(), veth) != links.end());
      // The kernel's routing for the pod, as the datapath made it: ip/32 dev <veth> in main, and
      // "to ip lookup main"; no from-pod rule (the local provider's pods leave through main).
      INFO(view.dump());
      CHECK(view.at("routes").size() == 1);
      CHECK(view.at("routes").at(0) == json{{"destination", ip + "/32"}, {"device", veth}, {"table", "main"}});
      CHECK(view.at("rules") == json::array({{{"priority", 512}, {"selector", "to " + ip + "/32"}, {"table", "main"}}}));
      CHECK(view.at("drift") == json::array());
    }
  }
}

std::string read_doc(const std::string& name) {
  const char* dir = std::getenv("VPCRI_DOCS");
  REQUIRE_MESSAGE(dir != nullptr, "VPCRI_DOCS (tests/meson.build) names the docs directory");
  return vpcri::fs::read_file(std::string(dir) + "/" + name);
}

// docs/grafana-dashboard.json is valid JSON whose every query names metrics vpcrid serves: in
// this scrape, or documented in docs/observability.md for the families made on first use (EC2
// calls with the aws provider, image pulls, allocation failures).
void check_dashboard(const Scrape& m) {
  const json dashboard = json::parse(read_doc("grafana-dashboard.json"));
  const std::string doc = read_doc("observability.md");
  static const std::regex metric_name("vpcri_[a-z0-9_]+");
  int exprs = 0;
  for (const auto& panel : dashboard.at("panels")) {
    for (const auto& target : panel.at("targets")) {
      const std::string expr = target.at("expr").get<std::string>();
      ++exprs;
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric_name); it != std::sregex_iterator(); ++it) {
        std::string name = it->str();
        CAPTURE(expr);
        CAPTURE(name);
        if (name.ends_with("_bucket")) name.resize(name.size() - 7);
        if (m.types.contains(name)) continue;
        const bool made_on_first_use = name.starts_with("vpcri_ec2_") || name.starts_with("vpcri_image_") ||
                                       name == "vpcri_ipam_allocation_failures_total";
        CHECK(made_on_first_use);
        CHECK(contains(doc, "`" + name + "`"));
      }
    }
  }
  CHECK(exprs >= 10);
}

}  // namespace

TEST_CASE("metrics and introspection follow pod churn and match the CRI's answers") {
  NodeNet node;
  Daemon d;
  d.set_netns(node.node_path());
  // A mirror URL with credentials in it: /v1/config must not show them.
  d.set_config(pods_config_yaml() + "network:\n  node_range: 10.99.0.0/24\n  mtu: 1500\n" +
               "registries:\n  docker.io:\n    mirrors: [\"http://user:s3cret@127.0.0.1:5000/v2\"]\n");
  d.start();
  REQUIRE_MESSAGE(wait_network_ready(d), network_condition(d).message());

  Scrape before = scrape(node);
  CHECK(before.types["vpcri_cri_requests_total"] == "counter");
  CHECK(before.types["vpcri_cri_request_duration_seconds"] == "histogram");
  CHECK(before.types["vpcri_pod_sandboxes"] == "gauge");
  CHECK(before.at("vpcri_process_resident_memory_bytes") > 1 << 20);
  CHECK(before.at("vpcri_process_open_fds") > 3);
  CHECK(before.at("vpcri_process_threads") > 1);
  check_against_cri(d, node);

  constexpr int kCycles = 3;
  constexpr int kPodsPerCycle = 2;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    CAPTURE(cycle);
    double run_ok_before = scrape(node).get(kRunOk);
    {
      Pod a(d, pod_config("obs-a" + std::to_string(cycle)));
      Pod b(d, pod_config("obs-b" + std::to_string(cycle)));
      if (cycle == 0) {
        run_shell_container(d, a, "sleeper", "sleep 1000");
        // vpcrictl net shows the same as tables, from inside the node (its default address).
        std::string ip_a = pod_ip(d, a.id());
        RunResult pods = run(in_netns(node.node_path(), {binary("VPCRICTL"), "net", "pods"}));
        CHECK_MESSAGE(pods.exit_code == 0, pods.err);
        CHECK(contains(pods.out, "HOST VETH"));
        CHECK(row_with(pods.out, ip_a).size() == 3);  // HOST VETH, ENI, TABLE after the IP
        CHECK_FALSE(contains(pods.out, "drift"));
        // Drift made by hand: /v1/pods reads the kernel, so it shows the missing rule.
        run_ok(in_netns(node.node_path(), {kIp, "rule", "del", "priority", "512", "to", ip_a, "lookup", "main"}));
        json drifted = introspect(node, "/v1/pods");
        for (const auto& p : drifted) {
          if (p["id"] == a.id()) {
            CHECK(p.at("drift") == json::array({"no ip rule 512 to " + ip_a + "/32 lookup main"}));
            CHECK(p.at("rules") == json::array());
          }
        }
        RunResult drifted_table = run(in_netns(node.node_path(), {binary("VPCRICTL"), "net", "pods"}));
        CHECK(contains(drifted_table.out, "default/obs-a0: no ip rule 512 to " + ip_a + "/32 lookup main"));
        run_ok(in_netns(node.node_path(), {kIp, "rule", "add", "priority", "512", "to", ip_a, "lookup", "main"}));
        RunResult enis = run(in_netns(node.node_path(), {binary("VPCRICTL"), "net", "enis"}));
        CHECK_MESSAGE(enis.exit_code == 0, enis.err);
        auto eni_row = row_with(enis.out, ip_a);  // STATE, POD, SANDBOX
        REQUIRE(eni_row.size() == 3);
        CHECK(eni_row[0] == "assigned");
        CHECK(eni_row[1] == "default/obs-a0");
        CHECK(a.id().starts_with(eni_row[2]));
        RunResult ipam = run(in_netns(node.node_path(), {binary("VPCRICTL"), "net", "ipam", "-o", "json"}));
        CHECK_MESSAGE(ipam.exit_code == 0, ipam.err);
        CHECK(json::parse(ipam.out)["actual"]["assigned"] == 2);
        RunResult bad = run(in_netns(node.node_path(), {binary("VPCRICTL"), "net", "routes"}));
        CHECK(bad.exit_code == 2);
      }
      Scrape during = scrape(node);
      CHECK(during.at(kRunOk) == run_ok_before + kPodsPerCycle);
      CHECK(during.at("vpcri_pod_sandboxes{state=\"ready\"}") == kPodsPerCycle);
      // One monitor per running container (pause has none), each a few hundred KiB to a few MiB.
      int running = cycle == 0 ? 1 : 0;
      CHECK(during.at("vpcri_monitors") == running);
      CHECK((during.at("vpcri_monitors_resident_memory_bytes") > 0) == (running > 0));
      CHECK(during.at("vpcri_monitors_resident_memory_bytes") < (running + 1) * 16.0 * (1 << 20));
      check_against_cri(d, node);
      // A stopped pod is NOTREADY and gives its IP back at once.
      REQUIRE(stop_pod(d, b.id()).ok());
      check_against_cri(d, node);
      CHECK(scrape(node).at("vpcri_ipam_ips_assigned") == kPodsPerCycle - 1);
    }  // both removed
    Scrape after = scrape(node);
    CHECK(after.at("vpcri_pod_sandboxes{state=\"ready\"}") == 0);
    CHECK(after.at("vpcri_pod_sandboxes{state=\"notready\"}") == 0);
    CHECK(after.at("vpcri_ipam_ips_assigned") == 0);
    check_against_cri(d, node);
  }

  // A refused request is counted under its code; the latency histogram counts every request.
  std::string id;
  v1::PodSandboxConfig nameless = pod_config("x");
  nameless.mutable_metadata()->set_name("");
  CHECK(run_pod(d, nameless, &id).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  Scrape last = scrape(node);
  CHECK(last.at("vpcri_cri_requests_total{rpc=\"RunPodSandbox\",code=\"INVALID_ARGUMENT\"}") == 1);
  CHECK(last.at(kRunOk) == before.get(kRunOk) + kCycles * kPodsPerCycle);
  double runs = 0;
  for (const auto& [series, v] : last.samples) {
    if (series.starts_with("vpcri_cri_requests_total{rpc=\"RunPodSandbox\"")) runs += v;
  }
  CHECK(last.at("vpcri_cri_request_duration_seconds_count{rpc=\"RunPodSandbox\"}") == runs);
  CHECK(last.at("vpcri_cri_request_duration_seconds_bucket{rpc=\"RunPodSandbox\",le=\"+Inf\"}") == runs);

  // The other endpoints: the pool against its targets, the effective config, unknown paths.
  json ipam = introspect(node, "/v1/ipam");
  CHECK(ipam["provider"] == "local");
  CHECK(ipam["actual"]["assigned"] == 0);
  CHECK(ipam["targets"]["warm_eni_target"] == 1);
  CHECK(ipam["next_action"]["action"].is_string());
  json config = introspect(node, "/v1/config");
  CHECK(config["metrics"]["address"] == kMetrics);
  CHECK(config["network"]["node_range"] == "10.99.0.0/24");
  CHECK(config["registries"]["docker.io"]["mirrors"][0] == "http://***@127.0.0.1:5000/v2");
  CHECK_FALSE(contains(get_in(node.node_path(), kIntrospection, "/v1/config").body, "s3cret"));
  CHECK(get_in(node.node_path(), kIntrospection, "/v2/nothing").status == 404);
  CHECK(get_in(node.node_path(), kMetrics, "/").status == 404);
  check_dashboard(scrape(node));
}

TEST_CASE("an empty address turns an endpoint off; a taken port is logged and vpcrid still serves") {
  NodeNet node;
  Daemon d({"--introspection-address="});
  d.set_netns(node.node_path());
  d.set_config(pods_config_yaml() + "network:\n  node_range: 10.99.0.0/24\n  mtu: 1500\n"
               "metrics:\n  address: \"127.0.0.1:61679\"\n");
  d.start();
  // The metrics server took the introspection port; the introspection API is off.
  CHECK(get_in(node.node_path(), "127.0.0.1:61679", "/metrics").status == 200);
  CHECK_THROWS(get_in(node.node_path(), kMetrics, "/metrics"));
  d.stop(SIGTERM);

  // Both on the same port: the second cannot listen, says so, and the CRI is served anyway.
  Daemon clash({"--metrics-address=127.0.0.1:61678", "--introspection-address=127.0.0.1:61678"});
  clash.set_netns(node.node_path());
  clash.set_config(pods_config_yaml() + "network:\n  node_range: 10.99.0.0/24\n  mtu: 1500\n");
  clash.start();
  CHECK(contains(clash.log(), "cannot serve introspection"));
  CHECK(get_in(node.node_path(), kMetrics, "/metrics").status == 200);
  CHECK(list_pods(clash).empty());
}

TEST_CASE("a restarted vpcrid counts the pods and containers it took back and those that ended while it was away") {
  NodeNet node;
  Daemon d;
  d.set_netns(node.node_path());
  d.set_config(pods_config_yaml() + "network:\n  node_range: 10.99.0.0/24\n  mtu: 1500\n");
  d.start();
  REQUIRE_MESSAGE(wait_network_ready(d), network_condition(d).message());
  const std::string readopted = "vpcri_restart_readopted_total{object=\"container\"}";
  const std::string lost = "vpcri_restart_lost_total{object=\"container\"}";
  Scrape fresh = scrape(node);
  CHECK(fresh.types["vpcri_restart_readopted_total"] == "counter");
  CHECK(fresh.at(readopted) == 0);
  CHECK(fresh.at(lost) == 0);
  CHECK(fresh.at("vpcri_restart_readopted_total{object=\"pod_sandbox\"}") == 0);

  Pod pod(d, pod_config("restart"));
  run_shell_container(d, pod, "survivor", "exec sleep 1000");
  const std::string doomed = run_shell_container(d, pod, "doomed", "exec sleep 1000");
  v1::ContainerStatusRequest req;
  req.set_container_id(doomed);
  req.set_verbose(true);
  v1::ContainerStatusResponse resp;
  REQUIRE(d.runtime().ContainerStatus(context().get(), req, &resp).ok());
  const pid_t doomed_pid = json::parse(resp.info().at("info"))["pid"].get<pid_t>();
  REQUIRE(doomed_pid > 0);

  REQUIRE(d.stop(SIGTERM) == 0);
  // One container ends while no vpcrid watches it (its monitor reaps it and records the exit).
  REQUIRE(::kill(doomed_pid, SIGKILL) == 0);
  for (int i = 0; i < 200 && ::kill(doomed_pid, 0) == 0; ++i) std::this_thread::sleep_for(10ms);
  d.start();
  Scrape after = scrape(node);
  CHECK(after.at(readopted) == 1);
  CHECK(after.at(lost) == 1);
  CHECK(after.at("vpcri_restart_readopted_total{object=\"pod_sandbox\"}") == 1);
  CHECK(after.at("vpcri_restart_lost_total{object=\"pod_sandbox\"}") == 0);
  CHECK(after.at("vpcri_containers{state=\"running\"}") == 1);
  CHECK(after.at("vpcri_containers{state=\"exited\"}") == 1);

  // A scraper asking for OpenMetrics gets it: counter families without _total, # EOF at the end.
  const std::string om = run_in(node.node_path(), [&] {
    return vpcri::metrics::http_exchange(kMetrics, "GET /metrics HTTP/1.1\r\nHost: vpcri\r\n"
                                                   "Accept: application/openmetrics-text;version=1.0.0\r\n\r\n");
  });
  CHECK(contains(om, "Content-Type: application/openmetrics-text; version=1.0.0"));
  CHECK(contains(om, "\n# TYPE vpcri_restart_readopted counter\n"));
  CHECK(contains(om, "\nvpcri_restart_readopted_total{object=\"container\"} 1\n"));
  CHECK(om.ends_with("\n# EOF\n"));
}

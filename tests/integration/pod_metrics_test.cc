// Pod stats and metrics kubelet takes from the runtime (PodSandboxStats, ListPodSandboxStats,
// ListMetricDescriptors, ListPodSandboxMetrics) with the real vpcrid inside a test node
// namespace (NodeNet): traffic pinged at a pod from the node must show in the pod's counters.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/daemon_fixture.h"
#include "tests/integration/net_checks.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;

namespace {

v1::PodSandboxStats pod_stats(Daemon& d, const std::string& id) {
  v1::PodSandboxStatsRequest req;
  req.set_pod_sandbox_id(id);
  v1::PodSandboxStatsResponse resp;
  auto s = d.runtime().PodSandboxStats(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp.stats();
}

std::map<std::string, v1::PodSandboxStats> list_pod_stats(Daemon& d) {
  v1::ListPodSandboxStatsRequest req;
  v1::ListPodSandboxStatsResponse resp;
  auto s = d.runtime().ListPodSandboxStats(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  std::map<std::string, v1::PodSandboxStats> out;
  for (const auto& st : resp.stats()) out[st.attributes().id()] = st;
  return out;
}

// 20 pings of 1000 bytes from the node to the pod: 20 KB each way through the pod's eth0.
void send_traffic(const NodeNet& node, const std::string& ip) {
  run_ok(in_netns(node.node_path(), {kBusybox, "ping", "-c", "20", "-i", "0.05", "-s", "1000", "-W", "3", ip}));
}

v1::ContainerStats container_stats(Daemon& d, const std::string& id) {
  v1::ContainerStatsRequest req;
  req.set_container_id(id);
  v1::ContainerStatsResponse resp;
  auto s = d.runtime().ContainerStats(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp.stats();
}

// name -> label keys, from ListMetricDescriptors.
std::map<std::string, std::vector<std::string>> descriptors(Daemon& d) {
  v1::ListMetricDescriptorsRequest req;
  v1::ListMetricDescriptorsResponse resp;
  auto s = d.runtime().ListMetricDescriptors(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& desc : resp.descriptors()) {
    CHECK_FALSE(desc.help().empty());
    out[desc.name()] = {desc.label_keys().begin(), desc.label_keys().end()};
  }
  return out;
}

std::map<std::string, v1::PodSandboxMetrics> pod_metrics(Daemon& d) {
  v1::ListPodSandboxMetricsRequest req;
  v1::ListPodSandboxMetricsResponse resp;
  auto s = d.runtime().ListPodSandboxMetrics(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  std::map<std::string, v1::PodSandboxMetrics> out;
  for (const auto& m : resp.pod_metrics()) out[m.pod_sandbox_id()] = m;
  return out;
}

// StreamPodSandboxMetrics read to its end, by pod; each message carries exactly one pod.
std::map<std::string, v1::PodSandboxMetrics> streamed_pod_metrics(Daemon& d) {
  auto ctx = context();
  auto reader = d.runtime().StreamPodSandboxMetrics(ctx.get(), v1::StreamPodSandboxMetricsRequest());
  std::map<std::string, v1::PodSandboxMetrics> out;
  v1::StreamPodSandboxMetricsResponse chunk;
  while (reader->Read(&chunk)) {
    REQUIRE(chunk.pod_sandbox_metrics_size() == 1);
    const auto& m = chunk.pod_sandbox_metrics(0);
    CHECK_FALSE(out.contains(m.pod_sandbox_id()));
    out[m.pod_sandbox_id()] = m;
  }
  auto s = reader->Finish();
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return out;
}

// Each sample's name and label values, sorted: what two readings of the same pod share.
std::multiset<std::string> sample_keys(const google::protobuf::RepeatedPtrField<v1::Metric>& metrics) {
  std::multiset<std::string> out;
  for (const auto& m : metrics) {
    std::string key = m.name();
    for (const auto& v : m.label_values()) key += " " + v;
    out.insert(key);
  }
  return out;
}

// The streamed pods and the listed ones carry the same samples (values move between the reads).
void check_stream_matches_list(const std::map<std::string, v1::PodSandboxMetrics>& streamed,
                               const std::map<std::string, v1::PodSandboxMetrics>& listed) {
  REQUIRE(streamed.size() == listed.size());
  for (const auto& [id, l] : listed) {
    CAPTURE(id);
    REQUIRE(streamed.contains(id));
    const v1::PodSandboxMetrics& s = streamed.at(id);
    CHECK(sample_keys(s.metrics()) == sample_keys(l.metrics()));
    REQUIRE(s.container_metrics_size() == l.container_metrics_size());
    for (int i = 0; i < l.container_metrics_size(); ++i) {
      CHECK(s.container_metrics(i).container_id() == l.container_metrics(i).container_id());
      CHECK(sample_keys(s.container_metrics(i).metrics()) == sample_keys(l.container_metrics(i).metrics()));
    }
  }
}

// The one sample of `name` whose label values are `labels`; the test fails if there is none.
uint64_t sample(const google::protobuf::RepeatedPtrField<v1::Metric>& metrics, const std::string& name,
                const std::vector<std::string>& labels) {
  for (const auto& m : metrics) {
    if (m.name() == name && std::vector<std::string>(m.label_values().begin(), m.label_values().end()) == labels) {
      return m.value().value();
    }
  }
  FAIL("no sample " << name << " for " << labels.size() << " labels starting " << labels.at(0));
  return 0;
}

// Every sample names a listed descriptor and carries one value per label key.
void check_against_descriptors(const google::protobuf::RepeatedPtrField<v1::Metric>& metrics,
                               const std::map<std::string, std::vector<std::string>>& described) {
  for (const auto& m : metrics) {
    CAPTURE(m.name());
    auto it = described.find(m.name());
    REQUIRE(it != described.end());
    CHECK(static_cast<size_t>(m.label_values_size()) == it->second.size());
    CHECK(m.has_value());
  }
}

bool close_to(uint64_t a, uint64_t b, uint64_t slack) { return (a > b ? a - b : b - a) <= slack; }

struct Node {
  NodeNet net;
  Daemon d;
  Node() {
    d.set_netns(net.node_path());
    d.set_config(pods_config_yaml() + "network:\n  node_range: 10.99.0.0/24\n  mtu: 1500\n");
    d.start();
    REQUIRE_MESSAGE(wait_network_ready(d), network_condition(d).message());
  }
};

}  // namespace

TEST_CASE("a pod's network stats come from its own namespace and grow with the traffic sent to it") {
  Node node;
  Pod pod(node.d, pod_config("netstats"));
  const std::string ip = pod_ip(node.d, pod.id());

  const v1::PodSandboxStats before = pod_stats(node.d, pod.id());
  REQUIRE(before.linux().has_network());
  const auto& net_before = before.linux().network();
  CHECK(net_before.timestamp() > 0);
  CHECK(net_before.default_interface().name() == "eth0");
  for (const auto& other : net_before.interfaces()) CHECK(other.name() != "lo");  // loopback is not the pod's traffic

  send_traffic(node.net, ip);
  const v1::PodSandboxStats after = pod_stats(node.d, pod.id());
  const auto& eth0 = after.linux().network().default_interface();
  const auto& eth0_before = net_before.default_interface();
  CHECK(after.linux().network().timestamp() > net_before.timestamp());
  CHECK(eth0.rx_bytes().value() >= eth0_before.rx_bytes().value() + 20 * 1000);
  CHECK(eth0.tx_bytes().value() >= eth0_before.tx_bytes().value() + 20 * 1000);
  CHECK(eth0.rx_errors().value() == 0);
  CHECK(eth0.tx_errors().value() == 0);

  // ListPodSandboxStats reports the same counters (nothing else talks to the pod meanwhile).
  auto listed = list_pod_stats(node.d);
  REQUIRE(listed.contains(pod.id()));
  const auto& listed_eth0 = listed[pod.id()].linux().network().default_interface();
  CHECK(listed_eth0.name() == "eth0");
  CHECK(listed_eth0.rx_bytes().value() >= eth0.rx_bytes().value());
  CHECK(listed_eth0.rx_bytes().value() < eth0.rx_bytes().value() + 1000);

  // A second pod is counted apart: none of that traffic went through its namespace.
  Pod quiet(node.d, pod_config("netstats-quiet"));
  CHECK(pod_stats(node.d, quiet.id()).linux().network().default_interface().rx_bytes().value() < 20 * 1000);

  // A stopped pod has no namespace any more: stats without a network section, not an error.
  REQUIRE(stop_pod(node.d, quiet.id()).ok());
  CHECK_FALSE(pod_stats(node.d, quiet.id()).linux().has_network());
}

TEST_CASE("ListPodSandboxMetrics: cAdvisor-named pod and container metrics that ListMetricDescriptors describes") {
  Node node;
  const auto described = descriptors(node.d);
  for (const char* name : {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                           "container_memory_usage_bytes", "container_memory_rss", "container_threads",
                           "container_processes", "container_fs_usage_bytes", "container_last_seen",
                           "container_network_receive_bytes_total", "container_network_transmit_bytes_total",
                           "container_network_receive_errors_total", "container_network_transmit_errors_total",
                           "container_network_receive_packets_total", "container_network_transmit_packets_total",
                           "container_network_receive_packets_dropped_total",
                           "container_network_transmit_packets_dropped_total"}) {
    CAPTURE(name);
    REQUIRE(described.contains(name));
  }
  CHECK(described.at("container_network_receive_bytes_total") == std::vector<std::string>{"id", "name", "interface"});
  CHECK(described.at("container_cpu_usage_seconds_total") == std::vector<std::string>{"id", "name"});

  Pod pod(node.d, pod_config("metrics"));
  // Busy until the shell itself has used 1.5 CPU seconds (utime + stime in /proc/self/stat, in
  // 1/100 s), then idle: at least one whole CPU second to report however loaded the node is.
  const std::string spin =
      "while :; do read -r a b c d e f g h i j k l m n o rest < /proc/$$/stat; [ $((n + o)) -ge 150 ] && break; done; "
      "exec sleep 1000";
  const std::string busy = run_shell_container(node.d, pod, "busy", spin);
  for (int i = 0; i < 600 && container_stats(node.d, busy).cpu().usage_core_nano_seconds().value() < 1'500'000'000;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  send_traffic(node.net, pod_ip(node.d, pod.id()));

  auto all = pod_metrics(node.d);
  REQUIRE(all.contains(pod.id()));
  const v1::PodSandboxMetrics& m = all[pod.id()];
  check_against_descriptors(m.metrics(), described);
  const std::vector<std::string> pod_labels{pod.id(), "metrics"};
  const std::vector<std::string> eth0{pod.id(), "metrics", "eth0"};
  CHECK(sample(m.metrics(), "container_network_receive_bytes_total", eth0) >= 20 * 1000);
  CHECK(sample(m.metrics(), "container_network_transmit_bytes_total", eth0) >= 20 * 1000);
  CHECK(sample(m.metrics(), "container_network_receive_packets_total", eth0) >= 20);
  CHECK(sample(m.metrics(), "container_network_transmit_packets_total", eth0) >= 20);
  CHECK(sample(m.metrics(), "container_network_receive_errors_total", eth0) == 0);
  CHECK(sample(m.metrics(), "container_memory_working_set_bytes", pod_labels) > 0);
  CHECK(sample(m.metrics(), "container_cpu_usage_seconds_total", pod_labels) >= 1);
  CHECK(sample(m.metrics(), "container_processes", pod_labels) >= 2);  // pause and sleep

  REQUIRE(m.container_metrics_size() == 1);
  const auto& c = m.container_metrics(0);
  CHECK(c.container_id() == busy);
  check_against_descriptors(c.metrics(), described);
  const std::vector<std::string> labels{busy, "busy"};
  const v1::ContainerStats stats = container_stats(node.d, busy);
  const uint64_t cpu_seconds = sample(c.metrics(), "container_cpu_usage_seconds_total", labels);
  CHECK(cpu_seconds >= 1);
  CHECK(close_to(cpu_seconds, stats.cpu().usage_core_nano_seconds().value() / 1'000'000'000, 1));
  const uint64_t working_set = sample(c.metrics(), "container_memory_working_set_bytes", labels);
  CHECK(working_set > 0);
  CHECK(close_to(working_set, stats.memory().working_set_bytes().value(), 4 << 20));
  const uint64_t processes = sample(c.metrics(), "container_processes", labels);
  CHECK(processes >= 1);  // sleep
  CHECK(sample(c.metrics(), "container_threads", labels) >= processes);
  const std::string layer = stats.writable_layer().fs_id().mountpoint();
  CHECK(sample(c.metrics(), "container_fs_usage_bytes", {busy, "busy", layer}) ==
        stats.writable_layer().used_bytes().value());
  const auto now_s = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  CHECK(close_to(sample(c.metrics(), "container_last_seen", labels), now_s, 5));
  // The container's own start, as ContainerStatus reports it (spinning up to 1.5 CPU seconds can
  // take far longer than that on a loaded node under ASan, so not "about now").
  const auto started_s = static_cast<uint64_t>(container_status(node.d, busy).started_at() / 1'000'000'000);
  CHECK(started_s <= now_s);
  CHECK(sample(c.metrics(), "container_start_time_seconds", labels) == started_s);

  // StreamPodSandboxMetrics: the same samples, one pod per message; counters only grow.
  const auto streamed = streamed_pod_metrics(node.d);
  check_stream_matches_list(streamed, all);
  CHECK(sample(streamed.at(pod.id()).metrics(), "container_network_receive_bytes_total", eth0) >=
        sample(m.metrics(), "container_network_receive_bytes_total", eth0));
  CHECK(sample(streamed.at(pod.id()).container_metrics(0).metrics(), "container_cpu_usage_seconds_total", labels) >=
        cpu_seconds);

  // A pod that is gone is gone from the metrics; a stopped one too (no ready pod, no samples).
  Pod other(node.d, pod_config("metrics-other"));
  REQUIRE(pod_metrics(node.d).size() == 2);
  CHECK(streamed_pod_metrics(node.d).size() == 2);
  REQUIRE(stop_pod(node.d, other.id()).ok());
  CHECK_FALSE(pod_metrics(node.d).contains(other.id()));
  CHECK_FALSE(streamed_pod_metrics(node.d).contains(other.id()));
  REQUIRE(remove_pod(node.d, pod.id()).ok());
  pod.forget();
  CHECK(pod_metrics(node.d).empty());
  CHECK(streamed_pod_metrics(node.d).empty());  // no message, and OK
}

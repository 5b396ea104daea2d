// ListPodSandboxMetrics and StreamPodSandboxMetrics: the same readings as PodSandboxStats (pod_stats: cgroups, writable
// layers, the pod's netns), turned into cAdvisor-named samples (cadvisor_metrics.h). Pod-level
// samples carry the pod's id and name, container samples the container's.
#include "cri/server/cadvisor_metrics.h"
#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/pod_network_counters.h"
#include "cri/server/runtime_service.h"
#include "runtime/cgroup/cgroup.h"

namespace vpcri::cri {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;

void add_if(MetricSink& sink, const std::string& family, bool present, uint64_t value) {
  if (present) sink.add(family, value);
}

void add_cpu_memory(MetricSink& sink, const v1::CpuUsage& cpu, const v1::MemoryUsage& mem) {
  add_if(sink, "container_cpu_usage_seconds_total", cpu.has_usage_core_nano_seconds(),
         cpu.usage_core_nano_seconds().value() / kNsPerSecond);
  add_if(sink, "container_memory_usage_bytes", mem.has_usage_bytes(), mem.usage_bytes().value());
  add_if(sink, "container_memory_working_set_bytes", mem.has_working_set_bytes(), mem.working_set_bytes().value());
  add_if(sink, "container_memory_rss", mem.has_rss_bytes(), mem.rss_bytes().value());
  // cgroup v1 total_* and v2 memory.stat count the whole subtree: cAdvisor's "hierarchy" scope.
  if (mem.has_page_faults()) {
    sink.add("container_memory_failures_total", mem.page_faults().value(), {"pgfault", "hierarchy"});
  }
  if (mem.has_major_page_faults()) {
    sink.add("container_memory_failures_total", mem.major_page_faults().value(), {"pgmajfault", "hierarchy"});
  }
}

void add_tasks(MetricSink& sink, RuntimeState& state, const std::string& cgroup_path, uint64_t threads) {
  sink.add("container_threads", threads);
  runtime::cgroup::Cgroup cgroup(state.cgroup_root(), cgroup_path);
  sink.add("container_processes", cgroup.exists() ? cgroup.pids().size() : 0);
}

void add_network(MetricSink& sink, const std::vector<net::InterfaceCounters>& interfaces) {
  for (const auto& c : interfaces) {
    const std::vector<std::string> iface{c.name};
    sink.add("container_network_receive_bytes_total", c.rx_bytes, iface);
    sink.add("container_network_receive_packets_total", c.rx_packets, iface);
    sink.add("container_network_receive_packets_dropped_total", c.rx_dropped, iface);
    sink.add("container_network_receive_errors_total", c.rx_errors, iface);
    sink.add("container_network_transmit_bytes_total", c.tx_bytes, iface);
    sink.add("container_network_transmit_packets_total", c.tx_packets, iface);
    sink.add("container_network_transmit_packets_dropped_total", c.tx_dropped, iface);
    sink.add("container_network_transmit_errors_total", c.tx_errors, iface);
  }
}

void add_container(RuntimeState& state, const v1::ContainerStats& stats, int64_t now, v1::ContainerMetrics* out) {
  const std::string& id = stats.attributes().id();
  out->set_container_id(id);
  MetricSink sink(out->mutable_metrics(), id, stats.attributes().metadata().name(), now);
  add_cpu_memory(sink, stats.cpu(), stats.memory());
  const auto container = state.store().containers.find(id);
  if (container) {
    const ContainerRecord r = container->get();
    runtime::cgroup::Cgroup cgroup(state.cgroup_root(), r.cgroup_path);
    const auto threads = cgroup.exists() ? cgroup.pids_current() : std::nullopt;
    add_tasks(sink, state, r.cgroup_path, threads.value_or(0));
    sink.add("container_start_time_seconds", static_cast<uint64_t>(r.started_at) / kNsPerSecond);
  }
  const auto& layer = stats.writable_layer();
  sink.add("container_fs_usage_bytes", layer.used_bytes().value(), {layer.fs_id().mountpoint()});
  sink.add("container_last_seen", static_cast<uint64_t>(now) / kNsPerSecond);
}

void pod_metrics(RuntimeState& state, const SandboxRecord& r, v1::PodSandboxMetrics* out) {
  const auto interfaces = pod_interface_counters(state.store(), r);
  v1::PodSandboxStats stats;
  pod_stats(state, r, interfaces, &stats);
  const int64_t now = now_ns();
  out->set_pod_sandbox_id(r.id);
  MetricSink sink(out->mutable_metrics(), r.id, r.config.metadata().name(), now);
  const auto& linux = stats.linux();
  add_cpu_memory(sink, linux.cpu(), linux.memory());
  if (linux.has_process()) add_tasks(sink, state, r.cgroup_parent, linux.process().process_count().value());
  add_network(sink, interfaces);
  sink.add("container_last_seen", static_cast<uint64_t>(now) / kNsPerSecond);
  for (const auto& c : linux.containers()) add_container(state, c, now, out->add_container_metrics());
}

}  // namespace

grpc::Status RuntimeService::ListPodSandboxMetrics(grpc::ServerContext*, const v1::ListPodSandboxMetricsRequest*,
                                                   v1::ListPodSandboxMetricsResponse* resp) {
  return handle_rpc("ListPodSandboxMetrics", [&] {
    for (const auto& r : select_sandboxes(state_.store(), "", {})) {
      if (r.state != v1::SANDBOX_READY) continue;  // as ListPodSandboxStats: only ready pods
      pod_metrics(state_, r, resp->add_pod_metrics());
    }
  });
}

grpc::Status RuntimeService::StreamPodSandboxMetrics(grpc::ServerContext* context,
                                                     const v1::StreamPodSandboxMetricsRequest*,
                                                     grpc::ServerWriter<v1::StreamPodSandboxMetricsResponse>* writer) {
  return handle_rpc("StreamPodSandboxMetrics", [&] {
    // One pod per message: each stays small however many pods and containers the node runs,
    // and a pod is read just before it is sent.
    for (const auto& r : select_sandboxes(state_.store(), "", {})) {
      if (r.state != v1::SANDBOX_READY) continue;
      if (context->IsCancelled()) return;
      v1::StreamPodSandboxMetricsResponse chunk;
      pod_metrics(state_, r, chunk.add_pod_sandbox_metrics());
      if (!writer->Write(chunk)) return;  // the client is gone
    }
  });
}

}  // namespace vpcri::cri

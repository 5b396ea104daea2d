#include "cri/server/observability.h"

#include <map>

#include "common/log.h"
#include "metrics/openmetrics.h"
#include "metrics/process.h"

namespace vpcri::cri {
namespace {

std::string pod_state_name(v1::PodSandboxState s) { return s == v1::SANDBOX_READY ? "ready" : "notready"; }

std::string container_state_name(v1::ContainerState s) {
  switch (s) {
    case v1::CONTAINER_CREATED: return "created";
    case v1::CONTAINER_RUNNING: return "running";
    case v1::CONTAINER_EXITED: return "exited";
    default: return "unknown";
  }
}

void collect_objects(Store& store, metrics::Collection& out) {
  // Every state appears, zero included, so a rate or an alert never sees a series vanish.
  std::map<std::string, int> pods{{"ready", 0}, {"notready", 0}};
  for (const auto& pod : store.sandboxes.all()) {
    pod->read([&](const SandboxRecord& r) { ++pods[pod_state_name(r.state)]; });
  }
  for (const auto& [state, n] : pods) {
    out.gauge("vpcri_pod_sandboxes", "Pod sandboxes by CRI state (as ListPodSandbox lists them).",
              {{"state", state}}, n);
  }
  std::map<std::string, int> containers{{"created", 0}, {"running", 0}, {"exited", 0}, {"unknown", 0}};
  for (const auto& c : store.containers.all()) {
    c->read([&](const ContainerRecord& r) { ++containers[container_state_name(r.state)]; });
  }
  // The vpcri-monitor processes (one per running container; pause runs without one) and their memory:
  // what vpcri costs the node beyond vpcrid itself.
  int monitors = 0;
  double monitor_rss = 0;
  auto count_monitor = [&](const std::shared_ptr<runtime::MonitorHandle>& m) {
    if (!m || m->exited()) return;
    // Checked against its start time: a recycled pid is not our monitor.
    if (runtime::process_start_time(m->monitor().pid) != m->monitor().start_time) return;
    double rss = metrics::resident_memory_bytes(m->monitor().pid);
    if (rss < 0) return;
    ++monitors;
    monitor_rss += rss;
  };
  for (const auto& pod : store.sandboxes.all()) count_monitor(pod->monitor());
  for (const auto& c : store.containers.all()) count_monitor(c->monitor());
  out.gauge("vpcri_monitors", "Live vpcri-monitor processes (one per running container).", {},
            monitors);
  out.gauge("vpcri_monitors_resident_memory_bytes", "Resident memory of all live vpcri-monitor processes, summed.", {},
            monitor_rss);
  for (const auto& [state, n] : containers) {
    out.gauge("vpcri_containers", "Containers by CRI state (as ListContainers lists them).", {{"state", state}}, n);
  }
}

std::unique_ptr<metrics::HttpServer> serve(const std::string& name, const std::string& address,
                                           metrics::HttpHandler handler) {
  if (address.empty()) return nullptr;
  try {
    auto server = std::make_unique<metrics::HttpServer>(name, address, std::move(handler));
    log::info("serving " + name, {{"address", address}});
    return server;
  } catch (const std::exception& e) {
    log::error("cannot serve " + name + "; vpcrid goes on without it", {{"address", address}, {"error", e.what()}});
    return nullptr;
  }
}

}  // namespace

Observability::Observability(RuntimeState& state) : state_(state) {
  collector_ = metrics::global().add_collector([this](metrics::Collection& out) {
    collect_objects(state_.store(), out);
    metrics::collect_process(out);
  });
  metrics_server_ = serve("metrics", state.config().metrics.address, [](const metrics::HttpRequest& request) {
    if (request.path != "/metrics") return metrics::HttpResponse{404, "text/plain; charset=utf-8", "try /metrics\n"};
    if (metrics::accepts_openmetrics(request.accept)) {
      return metrics::HttpResponse{200, metrics::kOpenMetricsContentType,
                                   metrics::to_openmetrics(metrics::global().render())};
    }
    return metrics::HttpResponse{200, metrics::kTextContentType, metrics::global().render()};
  });
  introspection_server_ = serve("introspection", state.config().introspection.address,
                                [this](const metrics::HttpRequest& request) {
                                  return introspection_response(state_, request.path);
                                });
}

Observability::~Observability() {
  introspection_server_.reset();
  metrics_server_.reset();
  collector_.reset();
}

}  // namespace vpcri::cri

// The daemon's HTTP endpoints (docs/observability.md): Prometheus /metrics on metrics.address
// and the JSON introspection API on introspection.address, and the collector that reports pods
// and containers by state at each scrape.
#pragma once

#include <memory>

#include "cri/server/runtime_state.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"

namespace vpcri::cri {

class Observability {
 public:
  // Listens on each configured address ("" = off). A failure to listen is logged, not fatal:
  // serving the CRI matters more than being observed (aws-node behaves the same).
  explicit Observability(RuntimeState& state);
  ~Observability();  // stops both servers, then the collector
  Observability(const Observability&) = delete;
  Observability& operator=(const Observability&) = delete;

 private:
  RuntimeState& state_;
  metrics::Registry::CollectorHandle collector_;
  std::unique_ptr<metrics::HttpServer> metrics_server_;
  std::unique_ptr<metrics::HttpServer> introspection_server_;
};

// The introspection API's answer for `path` (/v1/enis, /v1/pods, /v1/ipam, /v1/config; else 404).
metrics::HttpResponse introspection_response(RuntimeState& state, const std::string& path);

// The effective config as JSON with secrets masked: user info in URLs ("http://user:pass@host")
// becomes "***@".
nlohmann::json masked_config_json(const Config& config);

}  // namespace vpcri::cri

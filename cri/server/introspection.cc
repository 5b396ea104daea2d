// The introspection API (docs/observability.md): the node's networking as vpcrid sees it, as
// JSON, for `curl` and `vpcrictl net`.
#include <map>

#include "cri/server/observability.h"

namespace vpcri::cri {
namespace {

using nlohmann::json;

metrics::HttpResponse json_response(const json& body) {
  return metrics::HttpResponse{200, "application/json", body.dump(2) + "\n"};
}

// "scheme://user:pass@host/..." -> "scheme://***@host/...": mirrors may carry credentials.
std::string mask_userinfo(const std::string& url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < start) return url;
  return url.substr(0, start) + "***" + url.substr(at);
}

json pods_json(RuntimeState& state) {
  auto network = state.network();
  // Which ENI and route table each sandbox's IP is on, from the ENI view.
  std::map<std::string, std::pair<std::string, json>> placement;  // sandbox -> (eni, table)
  json routing = network ? network->pod_routing_json() : json::object();
  if (network) {
    for (const auto& eni : network->enis_json()) {
      for (const auto& ip : eni["ips"]) {
        if (ip.contains("sandbox_id")) {
          placement[ip["sandbox_id"].get<std::string>()] = {eni["id"].get<std::string>(), eni["route_table"]};
        }
      }
    }
  }
  json out = json::array();
  for (const auto& pod : state.store().sandboxes.all()) {
    SandboxRecord r = pod->get();
    json entry = {{"id", r.id},
                  {"namespace", r.config.metadata().namespace_()},
                  {"name", r.config.metadata().name()},
                  {"state", r.state == v1::SANDBOX_READY ? "ready" : "notready"},
                  {"host_network", is_host_network(r.config)},
                  {"ip", r.ip}};
    if (network) {
      if (auto attached = network->lookup(r.id)) entry["host_veth"] = attached->host_veth;
    }
    if (auto it = placement.find(r.id); it != placement.end()) {
      entry["eni"] = it->second.first;
      entry["route_table"] = it->second.second;
    }
    // What the kernel holds for the pod's IP now, and how that differs from what was made.
    if (auto it = routing.find(r.id); it != routing.end()) entry.update(*it);
    out.push_back(entry);
  }
  return out;
}

}  // namespace

json masked_config_json(const Config& config) {
  json j = json::parse(config_to_json(config));
  for (auto& [host, registry] : j["registries"].items()) {
    for (auto& mirror : registry["mirrors"]) mirror = mask_userinfo(mirror.get<std::string>());
  }
  for (const char* key : {"ec2_endpoint", "sts_endpoint", "imds_endpoint"}) {
    auto& v = j["network"]["aws"][key];
    v = mask_userinfo(v.get<std::string>());
  }
  return j;
}

metrics::HttpResponse introspection_response(RuntimeState& state, const std::string& path) {
  if (path == "/v1/config") return json_response(masked_config_json(state.config()));
  if (path == "/v1/pods") return json_response(pods_json(state));
  if (path == "/v1/enis" || path == "/v1/ipam") {
    auto network = state.network();
    if (!network) {
      std::string why = state.network_problem();
      return json_response({{"error", why.empty() ? "pod networking is off (network.provider: none)" : why}});
    }
    return json_response(path == "/v1/enis" ? network->enis_json() : network->ipam_json());
  }
  return metrics::HttpResponse{404, "application/json",
                               json{{"error", "no such endpoint " + path},
                                    {"endpoints", {"/v1/enis", "/v1/pods", "/v1/ipam", "/v1/config"}}}
                                       .dump() +
                                   "\n"};
}

}  // namespace vpcri::cri

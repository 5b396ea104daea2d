// PodNetworks' introspection views (/v1/enis, /v1/ipam, the routing of /v1/pods): read-only JSON
// from the datastore, the pool manager and the kernel.
#include <map>
#include <optional>

#include "net/datapath/routing_view.h"
#include "net/ipam/warm_targets.h"
#include "net/pod_network.h"

namespace vpcri::net {

using nlohmann::json;

json PodNetworks::enis_json() const {
  ipam::Datastore& ds = ipam_->datastore();
  std::map<std::string, ipam::Allocation> holders;  // by IP text
  for (auto& a : ds.allocations()) holders[a.ip.to_string()] = a;
  ipam::DatastoreState state = ds.snapshot();
  std::map<std::string, bool> cooling;
  for (const auto& ip : state.cooling) cooling[ip.to_string()] = true;
  std::map<std::string, ipam::EniStats> stats;
  for (auto& s : ds.eni_stats()) stats[s.id] = s;

  json out = json::array();
  for (const auto& eni : state.enis) {
    json ips = json::array();
    for (const auto& ip : eni.secondary_ips) {
      std::string text = ip.to_string();
      json entry = {{"ip", text}};
      if (auto it = holders.find(text); it != holders.end()) {
        const ipam::Allocation& a = it->second;
        entry["state"] = "assigned";
        entry["sandbox_id"] = a.sandbox_id;
        entry["pod"] = a.pod_namespace + "/" + a.pod_name;
        entry["host_veth"] = veth_of(a);
      } else {
        entry["state"] = cooling.contains(text) ? "cooling" : "free";
      }
      ips.push_back(entry);
    }
    const ipam::EniStats& s = stats[eni.id];
    // The table its pods' traffic leaves through, as attach() wires it (main: primary ENI, or a
    // local provider's virtual ENI).
    std::optional<uint32_t> table = eni_links_->pod_route_table(eni.id);
    out.push_back({{"id", eni.id},
                   {"device_number", eni.device_number},
                   {"primary", s.primary},
                   {"mac", eni.mac},
                   {"subnet_id", eni.subnet_id},
                   {"subnet_cidr", eni.subnet_cidr.to_string()},
                   {"primary_ip", eni.primary_ip.to_string()},
                   {"route_table", table ? json(*table) : json("main")},
                   {"ips", ips},
                   {"assigned", s.assigned},
                   {"cooling", s.cooling}});
  }
  return out;
}

json PodNetworks::ipam_json() const {
  ipam::PoolStats s = ipam_->stats();
  const ipam::WarmTargets& t = config_.warm;
  int pod_ips_per_eni = s.pod_ips_per_eni;
  // The pool manager's next step from the same arithmetic it uses (warm_targets.h).
  std::string next = "none";
  std::string why = "the pool meets its targets";
  if (s.max_enis == 0) {
    next = "describe_node";
    why = "the pool manager has not described the node yet";
  } else if (ipam::pool_too_low(t, s.total, s.assigned, pod_ips_per_eni, config_.max_pods)) {
    next = "grow";
    why = s.enis >= s.max_enis && s.total >= s.max_enis * pod_ips_per_eni ? "below target, but the ENI limit is reached"
                                                                           : "fewer free IPs than the targets ask";
  } else if (ipam::pool_too_high(t, s.total, s.assigned)) {
    next = "shrink";
    why = "more free IPs than the IP targets ask";
  } else if (ipam::may_remove_extra_enis(t, s.total, s.assigned, pod_ips_per_eni)) {
    next = "free_eni";
    why = "a whole unused ENI more than warm_eni_target";
  }
  ipam::IpTargetState ip_targets = ipam::ip_target_state(t, s.total, s.assigned);
  auto pool = ipam_->status();
  json out;
  out["provider"] = provider_->name();
  out["ready"] = ready();
  out["targets"] = {{"warm_eni_target", t.warm_eni_target},
                    {"warm_ip_target", t.warm_ip_target},
                    {"minimum_ip_target", t.minimum_ip_target},
                    {"max_pods", config_.max_pods}};
  out["actual"] = {{"enis", s.enis},         {"max_enis", s.max_enis}, {"ips", s.total},
                   {"assigned", s.assigned}, {"cooling", s.cooling},   {"free", s.free()},
                   {"available", s.available()}, {"pod_ips_per_eni", pod_ips_per_eni}};
  out["warm_shortfall"] = ipam::warm_shortfall(t, s.total, s.assigned, pod_ips_per_eni, config_.max_pods);
  if (ip_targets.defined) out["ip_targets"] = {{"short_by", ip_targets.short_by}, {"over_by", ip_targets.over_by}};
  out["next_action"] = {{"action", next}, {"why", why}};
  out["pool_manager"] = {{"message", pool.message},
                         {"provider_calls", pool.provider_calls},
                         {"provider_errors", pool.provider_errors}};
  return out;
}

namespace {

json routes_json(const std::vector<KernelRoute>& routes) {
  json out = json::array();
  for (const auto& r : routes) {
    json entry = {{"destination", r.destination}, {"device", r.device}, {"table", r.table}};
    if (!r.gateway.empty()) entry["gateway"] = r.gateway;
    out.push_back(entry);
  }
  return out;
}

json rules_json(const std::vector<KernelRule>& rules) {
  json out = json::array();
  for (const auto& r : rules) out.push_back({{"priority", r.priority}, {"selector", r.selector}, {"table", r.table}});
  return out;
}

// What setup_pod_network() made for the pod (datapath.h) and the kernel does not hold as made.
json routing_drift(const KernelPodRouting& kernel, const std::string& ip, const std::string& veth,
                   std::optional<uint32_t> eni_table) {
  const std::string host = ip + "/32";
  json drift = json::array();
  bool routed = false;
  for (const auto& r : kernel.routes) routed |= r.table == "main" && r.device == veth;
  if (!routed) drift.push_back("no route " + host + " dev " + veth + " in table main");
  auto has_rule = [&](uint32_t priority, const std::string& selector, const std::string& table) {
    for (const auto& r : kernel.rules) {
      if (r.priority == priority && r.selector == selector && r.table == table) return true;
    }
    return false;
  };
  const std::string to_pod = "to " + host, from_pod = "from " + host;
  if (!has_rule(kToPodRulePriority, to_pod, "main")) {
    drift.push_back("no ip rule " + std::to_string(kToPodRulePriority) + " " + to_pod + " lookup main");
  }
  const std::string wanted = eni_table ? route_table_name(*eni_table) : "";
  if (eni_table && !has_rule(kFromPodRulePriority, from_pod, wanted)) {
    drift.push_back("no ip rule " + std::to_string(kFromPodRulePriority) + " " + from_pod + " lookup " + wanted);
  }
  for (const auto& r : kernel.rules) {  // a from-pod rule into another table sends the pod out the wrong ENI
    if (r.priority == kFromPodRulePriority && r.selector == from_pod && r.table != wanted) {
      drift.push_back("unexpected ip rule " + std::to_string(r.priority) + " " + from_pod + " lookup " + r.table);
    }
  }
  return drift;
}

}  // namespace

json PodNetworks::pod_routing_json() const {
  json out = json::object();
  try {
    KernelRoutingSnapshot kernel;
    for (const auto& a : ipam_->datastore().allocations()) {
      KernelPodRouting routing = kernel.for_ip(a.ip);
      const std::string veth = veth_of(a);
      out[a.sandbox_id] = {{"routes", routes_json(routing.routes)},
                           {"rules", rules_json(routing.rules)},
                           {"drift", routing_drift(routing, a.ip.to_string(), veth,
                                                  eni_links_->pod_route_table(a.eni_id))}};
    }
  } catch (const Error& e) {
    // Introspection must answer even when the kernel will not: say why beside each pod.
    for (const auto& a : ipam_->datastore().allocations()) {
      out[a.sandbox_id] = {{"routing_error", std::string("cannot read routes and rules: ") + e.what()}};
    }
  }
  return out;
}

}  // namespace vpcri::net

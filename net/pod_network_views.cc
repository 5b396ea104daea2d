// PodNetworks' introspection views (/v1/enis, /v1/ipam): read-only JSON from the datastore and
// the pool manager.
#include <map>
#include <optional>

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
  if (ip_targets.defined) out["ip_targets"] = {{"short_by", ip_targets.short_by}, {"over_by", ip_targets.over_by}};
  out["next_action"] = {{"action", next}, {"why", why}};
  out["pool_manager"] = {{"message", pool.message},
                         {"provider_calls", pool.provider_calls},
                         {"provider_errors", pool.provider_errors}};
  return out;
}

}  // namespace vpcri::net

#include "net/ipam/warm_targets.h"

#include <algorithm>

namespace vpcri::net::ipam {

IpTargetState ip_target_state(const WarmTargets& targets, int total, int assigned) {
  if (!targets.ip_targets_defined()) return {};
  int available = total - assigned;
  IpTargetState state;
  state.defined = true;
  state.short_by = std::max({targets.warm_ip_target - available, targets.minimum_ip_target - total, 0});
  state.over_by = std::max(std::min(available - targets.warm_ip_target, total - targets.minimum_ip_target), 0);
  return state;
}

int warm_shortfall(const WarmTargets& targets, int total, int assigned, int pod_ips_per_eni, int max_pods) {
  int shortfall = 0;
  if (targets.ip_targets_defined()) {
    shortfall = ip_target_state(targets, total, assigned).short_by;
  } else {
    int available = total - assigned;
    shortfall = std::max(pod_ips_per_eni * targets.warm_eni_target - available, 0);
    if (targets.warm_eni_target == 0 && available <= 0) shortfall = 1;
  }
  if (max_pods > 0) shortfall = std::min(shortfall, std::max(max_pods - total, 0));
  return shortfall;
}

bool pool_too_low(const WarmTargets& targets, int total, int assigned, int pod_ips_per_eni, int max_pods) {
  return warm_shortfall(targets, total, assigned, pod_ips_per_eni, max_pods) > 0;
}

bool pool_too_high(const WarmTargets& targets, int total, int assigned) {
  return targets.ip_targets_defined() && ip_target_state(targets, total, assigned).over_by > 0;
}

bool may_remove_extra_enis(const WarmTargets& targets, int total, int assigned, int pod_ips_per_eni) {
  if (targets.ip_targets_defined()) return true;
  return total - assigned >= (targets.warm_eni_target + 1) * pod_ips_per_eni;
}

bool eni_needed_for_ip_targets(const WarmTargets& targets, int total, int assigned, int eni_ips, int eni_available) {
  int other_available = (total - assigned) - eni_available;
  int other_total = total - eni_ips;
  if (targets.warm_ip_target > 0 && other_available < targets.warm_ip_target) return true;
  if (targets.minimum_ip_target > 0 && other_total < targets.minimum_ip_target) return true;
  return false;
}

int ips_to_request(const WarmTargets& targets, int total, int assigned, int room) {
  if (room <= 0) return 0;
  if (!targets.ip_targets_defined()) return room;
  return std::min(room, ip_target_state(targets, total, assigned).short_by);
}

}  // namespace vpcri::net::ipam

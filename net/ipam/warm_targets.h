// The warm-pool arithmetic of the AWS VPC CNI (ipamd), as pure functions so it can be checked
// against its definitions table by table:
//   - WARM_ENI_TARGET (default 1): keep that many whole ENIs' worth of IPs available.
//   - WARM_IP_TARGET: keep that many IPs available; MINIMUM_IP_TARGET: keep at least that many IPs
//     in total. When either is set (> 0) they replace WARM_ENI_TARGET:
//       short = max(warm - available, minimum - total, 0)
//       over  = max(min(available - warm, total - minimum), 0)
// "available" counts every IP not held by a sandbox, cooling ones included, as ipamd does.
// 0 means "unset" for the two IP targets, as in ipamd.
#pragma once

namespace vpcri::net::ipam {

struct WarmTargets {
  int warm_eni_target = 1;
  int warm_ip_target = 0;
  int minimum_ip_target = 0;
  bool ip_targets_defined() const { return warm_ip_target > 0 || minimum_ip_target > 0; }
};

struct IpTargetState {
  int short_by = 0;  // IPs to add
  int over_by = 0;   // IPs that may be given back
  bool defined = false;
};

IpTargetState ip_target_state(const WarmTargets& targets, int total, int assigned);

// Free IPs the pool lacks against its targets (the warm-pool shortfall; 0 when it meets them):
// under IP targets their short_by; under WARM_ENI_TARGET, target x pod IPs per ENI minus the
// available IPs (1 with target 0 and nothing available). Capped by max_pods > 0, as growth is.
int warm_shortfall(const WarmTargets& targets, int total, int assigned, int pod_ips_per_eni, int max_pods = 0);

// Should the pool grow (warm_shortfall > 0)? pod_ips_per_eni = IPs per ENI minus its primary. max_pods > 0 caps the
// pool: with that many IPs it never grows (ipamd's maxPods check).
bool pool_too_low(const WarmTargets& targets, int total, int assigned, int pod_ips_per_eni, int max_pods = 0);

// Should free IPs be given back one by one? Only under the IP targets; WARM_ENI_TARGET shrinks by
// whole ENIs (may_remove_extra_enis).
bool pool_too_high(const WarmTargets& targets, int total, int assigned);

// Is it worth looking for an ENI to free? Under WARM_ENI_TARGET when available >= (target + 1)
// ENIs' worth (freeing one unused ENI then keeps the target); under the IP targets always (the
// candidate ENI is then checked with eni_needed_for_ip_targets).
bool may_remove_extra_enis(const WarmTargets& targets, int total, int assigned, int pod_ips_per_eni);

// Under the IP targets: would the pool fall short of them without this ENI's IPs
// (eni_ips of which eni_available are not held by a sandbox)?
bool eni_needed_for_ip_targets(const WarmTargets& targets, int total, int assigned, int eni_ips, int eni_available);

// How many IPs to ask for on an ENI with `room` free slots: all of them under WARM_ENI_TARGET,
// just the shortfall under the IP targets.
int ips_to_request(const WarmTargets& targets, int total, int assigned, int room);

}  // namespace vpcri::net::ipam

// The AWS VPC CNI's warm-pool arithmetic (see /work/shared/reference/aws-vpc-cni-facts.md and
// ipamd's documented examples), row by row.
#include "net/ipam/warm_targets.h"

#include <doctest/doctest.h>

#include <string>

using namespace vpcri::net::ipam;

TEST_CASE("IP targets: short = max(warm - available, minimum - total), over = min(available - warm, total - minimum)") {
  struct Row {
    int warm, minimum, total, assigned, short_by, over_by;
  };
  const Row rows[] = {
      {5, 0, 0, 0, 5, 0},      // empty pool, warm 5
      {5, 0, 10, 8, 3, 0},     // 2 available, 3 short
      {5, 0, 20, 5, 0, 10},    // 15 available, 10 over
      {0, 10, 4, 0, 6, 0},     // minimum alone: 6 short of the floor
      {0, 10, 14, 2, 0, 4},    // minimum alone: 4 over the floor
      {2, 10, 12, 0, 0, 2},    // 12 available but the floor keeps 10
      {2, 10, 12, 11, 1, 0},   // 1 available: short of warm, the floor is met
      {1, 12, 12, 9, 0, 0},    // ipamd doc: WARM_IP_TARGET=1, MINIMUM_IP_TARGET=12, 9 pods -> 12 IPs
      {1, 0, 10, 9, 0, 0},     // ipamd doc: WARM_IP_TARGET=1, 9 pods -> 10 IPs
      {3, 20, 5, 5, 15, 0},    // the floor dominates the shortfall
      {3, 0, 3, 5, 5, 0},      // more assigned than held (never in practice): still no negative over
  };
  for (const Row& r : rows) {
    CAPTURE(r.warm);
    CAPTURE(r.minimum);
    CAPTURE(r.total);
    CAPTURE(r.assigned);
    WarmTargets t{1, r.warm, r.minimum};
    IpTargetState s = ip_target_state(t, r.total, r.assigned);
    CHECK(s.defined);
    CHECK(s.short_by == r.short_by);
    CHECK(s.over_by == r.over_by);
    CHECK(pool_too_low(t, r.total, r.assigned, 9) == (r.short_by > 0));
    CHECK(pool_too_high(t, r.total, r.assigned) == (r.over_by > 0));
  }
}

TEST_CASE("IP targets unset (0): WARM_ENI_TARGET decides") {
  WarmTargets t{1, 0, 0};
  CHECK_FALSE(t.ip_targets_defined());
  IpTargetState s = ip_target_state(t, 5, 5);
  CHECK_FALSE(s.defined);
  CHECK(s.short_by == 0);
  CHECK(s.over_by == 0);
  CHECK_FALSE(pool_too_high(t, 100, 0));  // WARM_ENI_TARGET never gives back single IPs
}

TEST_CASE("WARM_ENI_TARGET: low when available < target x IPs per ENI; extra ENIs when available >= (target + 1) x IPs per ENI") {
  struct Row {
    int warm_eni, per_eni, total, assigned;
    bool too_low, may_remove;
  };
  const Row rows[] = {
      {1, 9, 0, 0, true, false},     // fresh node
      {1, 9, 9, 0, false, false},    // one ENI's worth available
      {1, 9, 9, 1, true, false},     // a pod took one: attach another ENI
      {1, 9, 18, 1, false, false},   // 17 available
      {1, 9, 18, 0, false, true},    // 18 available: one ENI can go
      {0, 9, 0, 0, true, false},     // target 0 still wants an IP when none is available
      {0, 9, 9, 9, true, false},
      {0, 9, 9, 8, false, false},
      {0, 9, 9, 0, false, true},
      {2, 9, 18, 1, true, false},
      {1, 30, 30, 9, true, false},   // ipamd doc, m4.4xlarge (30 IPs/ENI), 9 pods: grow to 60
      {1, 30, 60, 9, false, false},  // 60 IPs, 51 free: stable
      {2, 30, 60, 9, true, false},   // WARM_ENI_TARGET=2: grow to 90
      {2, 30, 90, 9, false, false},  // 90 IPs, 81 free: stable
  };
  for (const Row& r : rows) {
    CAPTURE(r.warm_eni);
    CAPTURE(r.total);
    CAPTURE(r.assigned);
    WarmTargets t{r.warm_eni, 0, 0};
    CHECK(pool_too_low(t, r.total, r.assigned, r.per_eni) == r.too_low);
    CHECK(may_remove_extra_enis(t, r.total, r.assigned, r.per_eni) == r.may_remove);
  }
}

TEST_CASE("max pods caps growth whatever the targets") {
  CHECK(pool_too_low(WarmTargets{1, 0, 0}, 19, 19, 9, 20));
  CHECK_FALSE(pool_too_low(WarmTargets{1, 0, 0}, 20, 20, 9, 20));
  CHECK_FALSE(pool_too_low(WarmTargets{1, 5, 0}, 20, 20, 9, 20));
}

TEST_CASE("an ENI is needed when the other ENIs would fall short of the IP targets without it") {
  // 18 IPs, 4 assigned; the candidate ENI holds 9 unused IPs: 5 stay available elsewhere.
  CHECK_FALSE(eni_needed_for_ip_targets(WarmTargets{1, 5, 0}, 18, 4, 9, 9));
  CHECK(eni_needed_for_ip_targets(WarmTargets{1, 5, 0}, 18, 5, 9, 9));
  CHECK(eni_needed_for_ip_targets(WarmTargets{1, 0, 15}, 18, 0, 9, 9));
  CHECK_FALSE(eni_needed_for_ip_targets(WarmTargets{1, 0, 9}, 18, 0, 9, 9));
  CHECK(may_remove_extra_enis(WarmTargets{1, 5, 0}, 0, 0, 9));  // IP targets: always look, then check each ENI
}

TEST_CASE("IPs requested: a whole ENI's room under WARM_ENI_TARGET, the shortfall under IP targets") {
  CHECK(ips_to_request(WarmTargets{1, 0, 0}, 0, 0, 9) == 9);
  CHECK(ips_to_request(WarmTargets{1, 0, 0}, 9, 9, 4) == 4);
  CHECK(ips_to_request(WarmTargets{1, 3, 0}, 0, 0, 9) == 3);
  CHECK(ips_to_request(WarmTargets{1, 3, 20}, 0, 0, 9) == 9);  // 20 short, 9 fit on this ENI
  CHECK(ips_to_request(WarmTargets{1, 3, 0}, 10, 0, 9) == 0);
  CHECK(ips_to_request(WarmTargets{1, 0, 0}, 0, 0, 0) == 0);
}

TEST_CASE("the warm-pool shortfall: IPs to add to meet the targets, positive exactly when the pool is too low") {
  CHECK(warm_shortfall(WarmTargets{1, 0, 0}, 0, 0, 9) == 9);    // fresh node: one ENI's worth
  CHECK(warm_shortfall(WarmTargets{1, 0, 0}, 9, 1, 9) == 1);    // a pod took one
  CHECK(warm_shortfall(WarmTargets{2, 0, 0}, 18, 1, 9) == 1);   // 17 of 18 free
  CHECK(warm_shortfall(WarmTargets{1, 0, 0}, 18, 1, 9) == 0);
  CHECK(warm_shortfall(WarmTargets{0, 0, 0}, 9, 9, 9) == 1);    // target 0: one IP when none is free
  CHECK(warm_shortfall(WarmTargets{0, 0, 0}, 9, 8, 9) == 0);
  CHECK(warm_shortfall(WarmTargets{1, 5, 0}, 10, 8, 9) == 3);   // IP targets: their short_by
  CHECK(warm_shortfall(WarmTargets{1, 0, 10}, 4, 0, 9) == 6);
  CHECK(warm_shortfall(WarmTargets{1, 0, 0}, 19, 19, 9, 20) == 1);  // max pods caps it
  CHECK(warm_shortfall(WarmTargets{1, 0, 0}, 20, 20, 9, 20) == 0);
  CHECK(warm_shortfall(WarmTargets{1, 0, 0}, 0, 0, 0) == 0);    // not described yet: nothing known to lack
  for (int total = 0; total <= 20; ++total) {
    for (int assigned = 0; assigned <= total; ++assigned) {
      for (const WarmTargets& t : {WarmTargets{0, 0, 0}, WarmTargets{1, 0, 0}, WarmTargets{2, 3, 0}, WarmTargets{1, 0, 7}}) {
        CAPTURE(total);
        CAPTURE(assigned);
        CHECK(pool_too_low(t, total, assigned, 9, 16) == (warm_shortfall(t, total, assigned, 9, 16) > 0));
      }
    }
  }
}

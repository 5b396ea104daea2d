// Test-only helpers for driving a WarmPool and its Datastore by hand (warm_pool_test and the
// aws provider's pool tests).
#pragma once

#include <string>

#include "common/error.h"
#include "net/ipam/clock.h"
#include "net/ipam/datastore.h"
#include "net/ipam/warm_pool.h"

namespace vpcri::net::ipam::testing {

inline WarmPoolConfig manual_pool_config(WarmTargets targets, ManualClock& clock, int max_pods = 0) {
  WarmPoolConfig c;
  c.targets = targets;
  c.max_pods = max_pods;
  c.clock = clock.clock();
  return c;
}

// Allocates an IP for a new pod "pod-<n>"; returns its sandbox id.
inline std::string add_pod(Datastore& datastore, int& next_pod) {
  std::string id = "pod-" + std::to_string(next_pod++);
  datastore.allocate(id, "ns", id);
  return id;
}

// Why the next pod would get no IP ("" if it would get one; nothing is kept allocated).
inline std::string no_free_ip_reason(Datastore& datastore) {
  try {
    datastore.allocate("probe", "ns", "probe");
  } catch (const Error& e) {
    return e.what();
  }
  datastore.release("probe");
  return "";
}

}  // namespace vpcri::net::ipam::testing

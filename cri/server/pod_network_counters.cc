#include "cri/server/pod_network_counters.h"

#include "common/fs.h"
#include "common/log.h"
#include "cri/server/lifecycle.h"
#include "cri/server/runtime_state.h"

namespace vpcri::cri {

std::vector<net::InterfaceCounters> pod_interface_counters(const Store& store, const SandboxRecord& r) {
  if (is_host_network(r.config)) return {};
  const std::string netns = pod_paths(store, r.id).netns;
  if (!fs::exists(netns)) return {};
  try {
    return net::read_interface_counters(netns);
  } catch (const std::exception& e) {
    log::debug("no network counters for the pod", {{"pod", r.id}, {"error", e.what()}});
    return {};
  }
}

}  // namespace vpcri::cri

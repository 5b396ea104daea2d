// Fuzz target: the IPAM checkpoint (<root>/network/ipam.json), read at every start. Any input
// must decode or throw vpcri::Error. A state we accept must encode and decode to itself, and
// restoring it into a datastore (half its sandboxes still live) must never hand one IP to two
// sandboxes.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/log.h"
#include "net/ipam/checkpoint.h"

namespace ipam = vpcri::net::ipam;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vpcri::log::set_level(vpcri::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ipam::DatastoreState state;
  try {
    state = ipam::checkpoint::decode(text, "fuzz.json");
  } catch (const vpcri::Error&) {
    return 0;
  }
  ipam::DatastoreState again = ipam::checkpoint::decode(ipam::checkpoint::encode(state), "fuzz-again.json");
  if (again.enis != state.enis || again.cooling != state.cooling || again.allocations.size() != state.allocations.size())
    __builtin_trap();
  for (size_t i = 0; i < state.allocations.size(); ++i)
    if (again.allocations[i].sandbox_id != state.allocations[i].sandbox_id || again.allocations[i].ip != state.allocations[i].ip)
      __builtin_trap();

  std::set<std::string> live;
  for (size_t i = 0; i < state.allocations.size(); i += 2) live.insert(state.allocations[i].sandbox_id);
  ipam::Datastore datastore;
  ipam::checkpoint::restore(datastore, state, live);
  std::set<std::string> held;
  for (const auto& allocation : datastore.snapshot().allocations)
    if (!held.insert(allocation.ip.to_string()).second) __builtin_trap();
  return 0;
}

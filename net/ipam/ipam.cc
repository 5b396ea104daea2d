#include "net/ipam/ipam.h"

#include "common/error.h"

namespace vpcri::net::ipam {

Ipam::Ipam(Provider& provider, IpamConfig config)
    : provider_(provider),
      config_(std::move(config)),
      datastore_(Datastore::Options{config_.cooldown, config_.pool.clock}),
      pool_(provider_, datastore_, config_.pool) {}

Ipam::~Ipam() { pool_.stop(); }

checkpoint::RestoreReport Ipam::restore(const std::set<std::string>& live_sandbox_ids) {
  if (restored_) throw Error(Errc::failed_precondition, "IPAM restore: already restored");
  checkpoint::RestoreReport report;
  if (auto state = checkpoint::load(config_.checkpoint_path)) {
    provider_.adopt_enis(state->enis);
    report = checkpoint::restore(datastore_, *state, live_sandbox_ids);
  } else {
    report.live_without_allocation.assign(live_sandbox_ids.begin(), live_sandbox_ids.end());
  }
  // Only now: intermediate states of the restore must not replace the file.
  std::string path = config_.checkpoint_path;
  datastore_.set_persist(
      [path](const DatastoreState& state, PersistCause cause) { checkpoint::save(path, state, cause); });
  datastore_.persist_now();
  pool_.notify_eni_observer();  // the checkpoint's ENIs: their interfaces are wired before any pod is
  restored_ = true;
  return report;
}

void Ipam::start() {
  if (!restored_) {
    throw Error(Errc::failed_precondition, "IPAM start: call restore() with the live sandboxes first");
  }
  pool_.start();
}

void Ipam::stop() { pool_.stop(); }

Allocation Ipam::allocate(const std::string& sandbox_id, const std::string& pod_namespace,
                          const std::string& pod_name) {
  try {
    Allocation a = datastore_.allocate(sandbox_id, pod_namespace, pod_name);
    pool_.poke();
    return a;
  } catch (...) {
    pool_.poke();  // an empty pool: let the manager look now rather than at the next interval
    throw;
  }
}

std::optional<Allocation> Ipam::release(const std::string& sandbox_id) {
  auto released = datastore_.release(sandbox_id);
  if (released) pool_.poke();
  return released;
}

}  // namespace vpcri::net::ipam

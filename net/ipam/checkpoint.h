// The IPAM checkpoint: one JSON file with the ENI/IP inventory, the allocations (sandbox id,
// pod namespace/name, IP, ENI) and the IPs cooling down. The datastore's persist hook rewrites
// it on every change with temp file + fsync + rename, so after a crash it holds either the state
// before or after the last change, never a mix.
//
// On start, restore() rebuilds an empty datastore from it: allocations of sandboxes that still
// exist are kept, the others are released (into cooldown, with a conntrack flush queued), IPs
// that were cooling down cool down again from now (their release times are not kept). A
// damaged file is an error for the caller to decide on, never a silently empty pool: an empty
// pool would hand running pods' IPs to new ones.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "net/ipam/datastore.h"

namespace vpcri::net::ipam::checkpoint {

std::string encode(const DatastoreState& state);

// Throws Error(failed_precondition) naming `origin` (the file) and what is wrong: bad JSON,
// unknown version, missing fields, bad addresses, or contradictions (an IP on two ENIs, two
// sandboxes on one IP, an allocation of an IP its ENI does not have).
DatastoreState decode(std::string_view text, const std::string& origin);

// Checks a state for the contradictions decode() refuses; throws the same errors.
void validate(const DatastoreState& state, const std::string& origin);

// nullopt if the file does not exist (first start); throws if it cannot be read or is damaged.
std::optional<DatastoreState> load(const std::string& path);

// Writes atomically (as vpcri::fs::write_file_atomic), mode 0600. A pod's allocation or release
// reaches the failpoint `ipam.checkpoint_temp.allocate` / `.release` with the temp file written
// and not yet renamed (crash tests); inventory changes reach none.
void save(const std::string& path, const DatastoreState& state, PersistCause cause = PersistCause::inventory);

struct RestoreReport {
  std::vector<std::string> kept;      // sandbox ids whose allocation was kept
  std::vector<std::string> released;  // sandbox ids gone since: their IPs are cooling down
  // Live sandboxes the checkpoint has no allocation for (created after the last write, or
  // host-network sandboxes): the caller decides (they have no IP in this pool).
  std::vector<std::string> live_without_allocation;
};

// Rebuilds `datastore` (which must be empty) from `state`. Throws like validate() on a
// contradictory state, and Error(failed_precondition) if the datastore is not empty.
RestoreReport restore(Datastore& datastore, const DatastoreState& state, const std::set<std::string>& live_sandbox_ids);

}  // namespace vpcri::net::ipam::checkpoint

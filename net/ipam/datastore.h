// The node's ENIs and IPs and which sandbox holds which. The RPC path allocates and releases
// here without ever waiting on a provider; the pool manager (WarmPool) adds and removes ENIs and
// IPs as the provider reports them.
//
// Allocate and release are O(log n): free IPs sit in an ordered set, released IPs in a FIFO
// until their cooldown ends. A released IP is not reused for the cooldown (30 s by default)
// because the old pod's connections (conntrack, neighbour entries) may still point at it; the
// caller learns which IPs to flush from drain_flush_requests().
//
// Every change is handed to a persist hook (the checkpoint writer) under the writer lock, one
// write at a time, each with a snapshot taken under that lock, so the checkpoint follows the same
// order as the changes and a newer state is never overwritten by an older one. allocate() calls
// the hook without the datastore lock (persist_through: concurrent allocations share one write);
// the other changes (release, the pool manager's) still write under it. allocate() and release()
// take effect only once recorded: if the hook throws, they are undone and the error is passed on.
//
// The primary ENI is the one with device number 0 (network card 0); its IPs use the main route
// table, a secondary ENI's IPs use table device number + 1.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/ipam/clock.h"
#include "net/ipam/ipv4.h"
#include "net/ipam/provider.h"

namespace vpcri::net::ipam {

struct Allocation {
  std::string sandbox_id;
  std::string pod_namespace;
  std::string pod_name;
  IpAddress ip;
  std::string eni_id;
  int device_number = 0;
  std::optional<int> route_table;  // none: the IP is on the primary ENI, which uses the main table
  // The IP was held before (by another sandbox, or before a restart): flush conntrack and
  // neighbour entries for it before the new pod uses it.
  bool reused = false;
};

// Why the datastore hands its state to the persist hook: a pod's allocation or release (the
// RPC path, undone if the write fails) or an inventory change of the pool manager.
enum class PersistCause { allocation, release, inventory };

// What the checkpoint records: the ENI/IP inventory (EniInfo::secondary_ips = every IP the
// datastore holds for that ENI), the allocations and the IPs still cooling down.
struct DatastoreState {
  std::vector<EniInfo> enis;
  std::vector<Allocation> allocations;  // sandbox, pod, ip, eni are recorded; the rest is derived
  std::vector<IpAddress> cooling;
};

struct PoolStats {
  int enis = 0;
  int total = 0;     // IPs pods may use (ENI primary IPs excluded)
  int assigned = 0;  // held by a sandbox
  int cooling = 0;   // released, not reusable yet
  int max_enis = 0;         // the node's limits as the pool manager set them (0: not known yet)
  int pod_ips_per_eni = 0;
  int free() const { return total - assigned - cooling; }
  // As the AWS VPC CNI counts it (warm-target arithmetic): IPs not held by a sandbox, cooling ones included.
  int available() const { return total - assigned; }
};

struct EniStats {
  std::string id;
  int device_number = 0;
  bool primary = false;
  TimePoint added_at;  // when this datastore learnt of the ENI (restart resets it: conservative for ENI lifetime)
  int ips = 0;
  int assigned = 0;
  int cooling = 0;
};

// Why the pool cannot grow right now; shown in "no free IP" messages.
struct GrowthBlock {
  enum class Kind { subnet_full, provider_error };
  Kind kind = Kind::provider_error;
  std::string subnet_id;  // for subnet_full
  std::string error;      // for provider_error: what the provider said
  TimePoint until;        // next attempt
};

struct FlushRequest {
  enum class Reason { released, reused };
  IpAddress ip;
  Reason reason = Reason::released;
  std::string sandbox_id;  // the sandbox that released it, or the one it is reused for
};

struct ReconcileReport {
  int added_enis = 0;
  int added_ips = 0;
  int removed_enis = 0;
  int removed_ips = 0;
  // Assigned IPs (or ENIs with assigned IPs) the provider no longer lists: kept, since dropping
  // a live pod's address on one listing is worse than a stale entry (the AWS CNI's users hit that).
  std::vector<std::string> kept_missing;
  bool changed() const { return added_enis + added_ips + removed_enis + removed_ips > 0; }
};

class Datastore {
 public:
  struct Options {
    std::chrono::seconds cooldown{30};
    Clock clock = steady_clock();
  };
  using PersistFn = std::function<void(const DatastoreState&, PersistCause)>;

  Datastore() : Datastore(Options{}) {}
  explicit Datastore(Options options);
  Datastore(const Datastore&) = delete;
  Datastore& operator=(const Datastore&) = delete;

  void set_persist(PersistFn persist);
  // Hands the current state to the persist hook now (after a restore); throws what the hook throws.
  void persist_now();

  // ---- pods (RPC path) ----

  // Gives the sandbox a free IP (lowest device number first, then lowest address, so secondary
  // ENIs drain and can be freed). The same sandbox asking again gets its IP back. An empty pool
  // throws Error(resource_exhausted) at once, saying why from the real state (in use, cooling
  // down, ENI limit, subnet full, provider failing).
  Allocation allocate(const std::string& sandbox_id, const std::string& pod_namespace, const std::string& pod_name);
  // Puts the sandbox's IP into cooldown and returns what it held; nullopt if it held none.
  std::optional<Allocation> release(const std::string& sandbox_id);
  std::optional<Allocation> lookup(const std::string& sandbox_id) const;
  std::vector<Allocation> allocations() const;
  // IPs whose conntrack/neighbour state the datapath should flush, oldest first.
  std::vector<FlushRequest> drain_flush_requests();

  // ---- inventory (pool manager) ----

  // Node limits, for exhaustion messages: ENIs the node may have, pod IPs per ENI.
  void set_limits(int max_enis, int pod_ips_per_eni);
  void set_growth_block(std::optional<GrowthBlock> block);
  // Adds an ENI and its secondary IPs (free at once). Throws Error(already_exists) if known.
  void add_eni(const EniInfo& eni);
  // Adds secondary IPs to a known ENI, free at once; IPs already known are skipped. Returns how many were added.
  int add_ips(const std::string& eni_id, const std::vector<IpAddress>& ips);
  // Removes up to max_count free IPs (never assigned or cooling ones) so the caller can give them
  // back to the provider; highest device number first. Grouped by ENI.
  std::vector<std::pair<std::string, std::vector<IpAddress>>> take_free_ips(int max_count);
  // Removes an ENI with all its IPs and returns it. Throws Error(failed_precondition) if it is the
  // primary ENI or any of its IPs is assigned or cooling down.
  EniInfo remove_eni(const std::string& eni_id);
  // Makes the inventory match what the provider lists (see ReconcileReport::kept_missing).
  ReconcileReport reconcile(const std::vector<EniInfo>& attached);

  PoolStats stats();
  std::vector<EniStats> eni_stats();  // by device number
  std::vector<EniInfo> enis() const;  // by device number, secondary_ips left empty
  DatastoreState snapshot();

  // ---- restore (checkpoint.cc) ----

  // Gives a sandbox this exact IP, which must be known and free.
  void restore_allocation(const Allocation& allocation);
  // Starts the cooldown of a known free IP now.
  void start_cooldown(const IpAddress& ip);

 private:
  enum class IpState { free, cooling, assigned };
  struct IpSlot {
    std::string eni_id;
    int device_number = 0;
    IpState state = IpState::free;
    TimePoint cool_until;
    std::string sandbox_id;
    bool used_before = false;
  };
  struct EniEntry {
    EniInfo info;  // secondary_ips left empty: `ips` is the truth
    std::set<IpAddress, IpLess> ips;
    TimePoint added_at;
    int assigned = 0;
    int cooling = 0;
  };
  struct FreeKey {
    int device_number;
    IpAddress ip;
  };
  struct FreeKeyLess {
    bool operator()(const FreeKey& a, const FreeKey& b) const {
      if (a.device_number != b.device_number) return a.device_number < b.device_number;
      return IpLess{}(a.ip, b.ip);
    }
  };
  struct AllocationRecord {
    std::string pod_namespace;
    std::string pod_name;
    IpAddress ip;
  };

  void expire_cooldowns_locked(TimePoint now);
  void add_eni_locked(const EniInfo& eni);
  int add_ips_locked(EniEntry& eni, const std::vector<IpAddress>& ips);
  void remove_ip_locked(const IpAddress& ip);
  void assign_locked(const IpAddress& ip, IpSlot& slot, const std::string& sandbox_id, const std::string& ns,
                     const std::string& name);
  void unassign_locked(IpSlot& slot, const IpAddress& ip);
  Allocation describe_locked(const std::string& sandbox_id, const AllocationRecord& record) const;
  DatastoreState snapshot_locked() const;
  // Both hold write_mu_ (taken before mu_). persist_locked: also mu_; throws what the hook throws.
  void persist_locked(PersistCause cause);
  // Without mu_: returns once a write that carries change number `change` is done (by this call,
  // or by another since); throws what the hook throws.
  void persist_through(uint64_t change, PersistCause cause);
  void persist_or_log_locked();  // inventory changes: the provider already changed, nothing to undo
  // Under write_mu_: hands `state` to the hook (see inventory_unwritten_).
  void write_locked(const DatastoreState& state, PersistCause cause);
  void queue_flush_locked(const IpAddress& ip, FlushRequest::Reason reason, const std::string& sandbox_id);
  // Why the pool is empty: a short cause for the metrics and the message for the caller.
  struct Exhaustion {
    const char* cause;
    std::string message;
  };
  Exhaustion exhaustion_locked(TimePoint now) const;

  const Options options_;
  std::mutex write_mu_;       // one checkpoint write at a time; taken before mu_
  uint64_t written_seq_ = 0;  // under write_mu_: the newest change on disk
  bool inventory_unwritten_ = false;  // under write_mu_: an inventory write failed since the last success
  mutable std::mutex mu_;
  uint64_t changed_seq_ = 0;  // under mu_: the newest change in memory
  PersistFn persist_;         // set under both locks
  std::map<IpAddress, IpSlot, IpLess> ips_;
  std::map<std::string, EniEntry> enis_;
  std::set<FreeKey, FreeKeyLess> free_;
  std::deque<std::pair<TimePoint, IpAddress>> cooling_;  // by expiry; entries whose IP changed state since are skipped
  std::unordered_map<std::string, AllocationRecord> by_sandbox_;
  std::deque<FlushRequest> flush_;
  int assigned_ = 0;
  int cooling_count_ = 0;
  int max_enis_ = 0;
  int pod_ips_per_eni_ = 0;
  std::optional<GrowthBlock> growth_block_;
};

}  // namespace vpcri::net::ipam

#include "net/ipam/datastore.h"

#include <algorithm>

#include "common/error.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "metrics/registry.h"

namespace vpcri::net::ipam {
namespace {

constexpr size_t kMaxQueuedFlushes = 4096;  // nobody draining must not grow memory without bound

bool is_primary_eni(const EniInfo& eni) { return eni.device_number == 0; }

long long seconds_until(TimePoint now, TimePoint then) {
  if (then <= now) return 0;
  return std::chrono::ceil<std::chrono::seconds>(then - now).count();
}

void count_allocation_failure(const char* cause) {
  static auto& failures = metrics::global().counter(
      "vpcri_ipam_allocation_failures_total",
      "Pod IP allocations that failed, by cause (cooling, eni_limit, subnet_full, provider_error, "
      "pool_not_described, pool_growing, checkpoint_write).",
      {"cause"});
  failures.with({cause}).inc();
}

}  // namespace

Datastore::Datastore(Options options) : options_(std::move(options)) {}

void Datastore::set_persist(PersistFn persist) {
  std::scoped_lock lock(write_mu_, mu_);  // the writer lock first, as in persist_through
  persist_ = std::move(persist);
}

void Datastore::persist_now() {
  std::scoped_lock lock(write_mu_, mu_);  // the writer lock first, as in persist_through
  expire_cooldowns_locked(options_.clock());
  persist_locked(PersistCause::inventory);
}

// ---- pods ----

Allocation Datastore::allocate(const std::string& sandbox_id, const std::string& pod_namespace,
                               const std::string& pod_name) {
  if (sandbox_id.empty()) throw Error(Errc::invalid_argument, "IPAM allocate: empty sandbox id");
  std::unique_lock lock(mu_);
  if (auto it = by_sandbox_.find(sandbox_id); it != by_sandbox_.end()) {
    const AllocationRecord& held = it->second;
    if (held.pod_namespace == pod_namespace && held.pod_name == pod_name) return describe_locked(sandbox_id, held);
    throw Error(Errc::already_exists, "IPAM allocate: sandbox " + sandbox_id + " already holds IP " +
                                          held.ip.to_string() + " for pod " + held.pod_namespace + "/" +
                                          held.pod_name + ", not " + pod_namespace + "/" + pod_name);
  }
  TimePoint now = options_.clock();
  expire_cooldowns_locked(now);
  if (free_.empty()) {
    Exhaustion why = exhaustion_locked(now);
    count_allocation_failure(why.cause);
    throw Error(Errc::resource_exhausted, why.message);
  }

  const IpAddress ip = free_.begin()->ip;
  const bool used_before = ips_.at(ip).used_before;
  assign_locked(ip, ips_.at(ip), sandbox_id, pod_namespace, pod_name);
  const uint64_t change = ++changed_seq_;
  // Recorded without the datastore lock: concurrent pod starts neither wait for each other's
  // disk write nor repeat it (one write carries every change made before it). The IP is this
  // sandbox's meanwhile (assigned), and allocate() returns only once it is on disk.
  lock.unlock();
  try {
    persist_through(change, PersistCause::allocation);
  } catch (const std::exception& e) {
    lock.lock();
    // Still assigned to this sandbox: nothing else frees an assigned IP. Undone in memory; the
    // next write records that (a checkpoint that kept the allocation meanwhile is safe: restore
    // releases the allocations of sandboxes that are not live).
    IpSlot& slot = ips_.at(ip);
    ++changed_seq_;
    unassign_locked(slot, ip);
    slot.state = IpState::free;
    slot.used_before = used_before;
    free_.insert({slot.device_number, ip});
    by_sandbox_.erase(sandbox_id);
    Errc code = Errc::internal;
    if (auto* err = dynamic_cast<const Error*>(&e)) code = err->code();
    count_allocation_failure("checkpoint_write");
    throw Error(code, "IPAM allocate for sandbox " + sandbox_id + ": could not record the allocation: " + e.what());
  }
  failpoint("ipam.allocated");  // checkpointed; the pod has no veth yet
  lock.lock();
  Allocation out = describe_locked(sandbox_id, by_sandbox_.at(sandbox_id));
  out.reused = used_before;
  if (used_before) queue_flush_locked(ip, FlushRequest::Reason::reused, sandbox_id);
  log::info("IPAM allocated",
            {{"sandbox", sandbox_id}, {"pod", pod_namespace + "/" + pod_name}, {"ip", ip.to_string()},
             {"eni", out.eni_id}});
  return out;
}

std::optional<Allocation> Datastore::release(const std::string& sandbox_id) {
  std::scoped_lock lock(write_mu_, mu_);  // the writer lock first, as in persist_through
  auto it = by_sandbox_.find(sandbox_id);
  if (it == by_sandbox_.end()) return std::nullopt;
  AllocationRecord record = it->second;
  Allocation out = describe_locked(sandbox_id, record);
  TimePoint now = options_.clock();
  IpSlot& slot = ips_.at(record.ip);

  unassign_locked(slot, record.ip);
  by_sandbox_.erase(it);
  slot.state = IpState::cooling;
  slot.cool_until = now + options_.cooldown;
  ++cooling_count_;
  ++enis_.at(slot.eni_id).cooling;
  cooling_.emplace_back(slot.cool_until, record.ip);
  try {
    persist_locked(PersistCause::release);
  } catch (const std::exception& e) {
    // Undo: the sandbox keeps its IP (the stale cooling_ entry is skipped since the state changed).
    --cooling_count_;
    --enis_.at(slot.eni_id).cooling;
    assign_locked(record.ip, slot, sandbox_id, record.pod_namespace, record.pod_name);
    Errc code = Errc::internal;
    if (auto* err = dynamic_cast<const Error*>(&e)) code = err->code();
    throw Error(code, "IPAM release for sandbox " + sandbox_id + ": could not record the release: " + e.what());
  }
  failpoint("ipam.released");  // checkpointed; the pod's record still names the IP
  queue_flush_locked(record.ip, FlushRequest::Reason::released, sandbox_id);
  log::info("IPAM released", {{"sandbox", sandbox_id}, {"ip", record.ip.to_string()}});
  return out;
}

std::optional<Allocation> Datastore::lookup(const std::string& sandbox_id) const {
  std::lock_guard lock(mu_);
  auto it = by_sandbox_.find(sandbox_id);
  if (it == by_sandbox_.end()) return std::nullopt;
  return describe_locked(sandbox_id, it->second);
}

std::vector<Allocation> Datastore::allocations() const {
  std::lock_guard lock(mu_);
  std::vector<Allocation> out;
  out.reserve(by_sandbox_.size());
  for (const auto& [id, record] : by_sandbox_) out.push_back(describe_locked(id, record));
  std::sort(out.begin(), out.end(), [](const Allocation& a, const Allocation& b) { return a.sandbox_id < b.sandbox_id; });
  return out;
}

std::vector<FlushRequest> Datastore::drain_flush_requests() {
  std::lock_guard lock(mu_);
  std::vector<FlushRequest> out(flush_.begin(), flush_.end());
  flush_.clear();
  return out;
}

// ---- inventory ----

void Datastore::set_limits(int max_enis, int pod_ips_per_eni) {
  std::lock_guard lock(mu_);
  max_enis_ = max_enis;
  pod_ips_per_eni_ = pod_ips_per_eni;
}

void Datastore::set_growth_block(std::optional<GrowthBlock> block) {
  std::lock_guard lock(mu_);
  growth_block_ = std::move(block);
}

void Datastore::add_eni(const EniInfo& eni) {
  std::scoped_lock lock(write_mu_, mu_);  // the writer lock first, as in persist_through
  add_eni_locked(eni);
  persist_or_log_locked();
}

int Datastore::add_ips(const std::string& eni_id, const std::vector<IpAddress>& ips) {
  std::scoped_lock lock(write_mu_, mu_);  // the writer lock first, as in persist_through
  auto it = enis_.find(eni_id);
  if (it == enis_.end()) throw Error(Errc::not_found, "IPAM: cannot add IPs to unknown ENI " + eni_id);
  int added = add_ips_locked(it->second, ips);
  if (added > 0) persist_or_log_locked();
  return added;
}

std::vector<std::pair<std::string, std::vector<IpAddress>>> Datastore::take_free_ips(int max_count) {
  std::scoped_lock lock(write_mu_, mu_);  // the writer lock first, as in persist_through
  expire_cooldowns_locked(options_.clock());
  std::map<std::string, std::vector<IpAddress>> by_eni;
  std::vector<std::string> order;
  int taken = 0;
  while (taken < max_count && !free_.empty()) {
    IpAddress ip = std::prev(free_.end())->ip;
    const std::string eni_id = ips_.at(ip).eni_id;
    if (!by_eni.count(eni_id)) order.push_back(eni_id);
    by_eni[eni_id].push_back(ip);
    remove_ip_locked(ip);
    ++taken;
  }
  std::vector<std::pair<std::string, std::vector<IpAddress>>> out;
  for (const std::string& id : order) out.emplace_back(id, std::move(by_eni[id]));
  if (taken > 0) persist_or_log_locked();
  return out;
}

EniInfo Datastore::remove_eni(const std::string& eni_id) {
  std::scoped_lock lock(write_mu_, mu_);  // the writer lock first, as in persist_through
  expire_cooldowns_locked(options_.clock());
  auto it = enis_.find(eni_id);
  if (it == enis_.end()) throw Error(Errc::not_found, "IPAM: unknown ENI " + eni_id);
  EniEntry& entry = it->second;
  if (is_primary_eni(entry.info)) {
    throw Error(Errc::failed_precondition, "IPAM: ENI " + eni_id + " is the primary ENI and is never removed");
  }
  if (entry.assigned > 0 || entry.cooling > 0) {
    throw Error(Errc::failed_precondition, "IPAM: ENI " + eni_id + " has " + std::to_string(entry.assigned) +
                                               " IPs in use and " + std::to_string(entry.cooling) +
                                               " cooling down; it cannot be removed");
  }
  EniInfo out = entry.info;
  out.secondary_ips.assign(entry.ips.begin(), entry.ips.end());
  for (const IpAddress& ip : out.secondary_ips) {
    free_.erase({entry.info.device_number, ip});
    ips_.erase(ip);
  }
  enis_.erase(it);
  persist_or_log_locked();
  return out;
}

ReconcileReport Datastore::reconcile(const std::vector<EniInfo>& attached) {
  std::scoped_lock lock(write_mu_, mu_);  // the writer lock first, as in persist_through
  expire_cooldowns_locked(options_.clock());
  ReconcileReport report;
  std::set<std::string> listed;
  for (const EniInfo& eni : attached) {
    listed.insert(eni.id);
    auto it = enis_.find(eni.id);
    if (it == enis_.end()) {
      add_eni_locked(eni);
      ++report.added_enis;
      report.added_ips += static_cast<int>(enis_.at(eni.id).ips.size());
      continue;
    }
    EniEntry& entry = it->second;
    if (entry.info.mac.empty()) entry.info.mac = eni.mac;  // a checkpoint from before ENIs had MACs
    report.added_ips += add_ips_locked(entry, eni.secondary_ips);
    std::set<IpAddress, IpLess> provider_ips(eni.secondary_ips.begin(), eni.secondary_ips.end());
    std::vector<IpAddress> gone;
    for (const IpAddress& ip : entry.ips) {
      if (!provider_ips.count(ip)) gone.push_back(ip);
    }
    for (const IpAddress& ip : gone) {
      if (ips_.at(ip).state == IpState::assigned) {
        report.kept_missing.push_back("IP " + ip.to_string() + " of ENI " + eni.id + " (held by sandbox " +
                                      ips_.at(ip).sandbox_id + ")");
        continue;
      }
      remove_ip_locked(ip);
      ++report.removed_ips;
    }
  }
  std::vector<std::string> unlisted;
  for (const auto& [id, entry] : enis_) {
    if (!listed.count(id)) unlisted.push_back(id);
  }
  for (const std::string& id : unlisted) {
    EniEntry& entry = enis_.at(id);
    std::vector<IpAddress> ips(entry.ips.begin(), entry.ips.end());
    for (const IpAddress& ip : ips) {
      if (ips_.at(ip).state == IpState::assigned) continue;
      remove_ip_locked(ip);
      ++report.removed_ips;
    }
    if (entry.assigned > 0) {
      report.kept_missing.push_back("ENI " + id + " (" + std::to_string(entry.assigned) + " IPs in use)");
      continue;
    }
    enis_.erase(id);
    ++report.removed_enis;
  }
  for (const std::string& what : report.kept_missing) {
    log::warn("IPAM reconcile: the provider no longer lists an address in use; keeping it", {{"what", what}});
  }
  if (report.changed()) persist_or_log_locked();
  return report;
}

PoolStats Datastore::stats() {
  std::lock_guard lock(mu_);
  expire_cooldowns_locked(options_.clock());
  return PoolStats{static_cast<int>(enis_.size()), static_cast<int>(ips_.size()), assigned_, cooling_count_, max_enis_,
                   pod_ips_per_eni_};
}

std::vector<EniStats> Datastore::eni_stats() {
  std::lock_guard lock(mu_);
  expire_cooldowns_locked(options_.clock());
  std::vector<EniStats> out;
  for (const auto& [id, entry] : enis_) {
    out.push_back(EniStats{id, entry.info.device_number, is_primary_eni(entry.info), entry.added_at,
                           static_cast<int>(entry.ips.size()), entry.assigned, entry.cooling});
  }
  std::sort(out.begin(), out.end(),
            [](const EniStats& a, const EniStats& b) { return a.device_number < b.device_number; });
  return out;
}

std::vector<EniInfo> Datastore::enis() const {
  std::lock_guard lock(mu_);
  std::vector<EniInfo> out;
  for (const auto& [id, entry] : enis_) out.push_back(entry.info);
  std::sort(out.begin(), out.end(), [](const EniInfo& a, const EniInfo& b) { return a.device_number < b.device_number; });
  return out;
}

DatastoreState Datastore::snapshot() {
  std::lock_guard lock(mu_);
  expire_cooldowns_locked(options_.clock());
  return snapshot_locked();
}

// ---- restore ----

void Datastore::restore_allocation(const Allocation& allocation) {
  std::scoped_lock lock(write_mu_, mu_);  // the writer lock first, as in persist_through
  expire_cooldowns_locked(options_.clock());
  auto it = ips_.find(allocation.ip);
  if (it == ips_.end() || it->second.eni_id != allocation.eni_id) {
    throw Error(Errc::failed_precondition, "IPAM restore: sandbox " + allocation.sandbox_id + " holds IP " +
                                               allocation.ip.to_string() + " on ENI " + allocation.eni_id +
                                               ", which the inventory does not have");
  }
  if (it->second.state != IpState::free || by_sandbox_.count(allocation.sandbox_id)) {
    throw Error(Errc::failed_precondition, "IPAM restore: IP " + allocation.ip.to_string() + " for sandbox " +
                                               allocation.sandbox_id + " is already taken (or the sandbox appears twice)");
  }
  assign_locked(allocation.ip, it->second, allocation.sandbox_id, allocation.pod_namespace, allocation.pod_name);
  try {
    persist_locked(PersistCause::inventory);
  } catch (...) {
    by_sandbox_.erase(allocation.sandbox_id);
    unassign_locked(it->second, allocation.ip);
    it->second.state = IpState::free;
    free_.insert({it->second.device_number, allocation.ip});
    throw;
  }
}

void Datastore::start_cooldown(const IpAddress& ip) {
  std::scoped_lock lock(write_mu_, mu_);  // the writer lock first, as in persist_through
  TimePoint now = options_.clock();
  expire_cooldowns_locked(now);
  auto it = ips_.find(ip);
  if (it == ips_.end() || it->second.state != IpState::free) {
    throw Error(Errc::failed_precondition, "IPAM: cannot start the cooldown of " + ip.to_string() +
                                               ": it is unknown or not free");
  }
  IpSlot& slot = it->second;
  free_.erase({slot.device_number, ip});
  slot.state = IpState::cooling;
  slot.cool_until = now + options_.cooldown;
  slot.used_before = true;
  ++cooling_count_;
  ++enis_.at(slot.eni_id).cooling;
  cooling_.emplace_back(slot.cool_until, ip);
  persist_or_log_locked();
}

// ---- internals ----

void Datastore::expire_cooldowns_locked(TimePoint now) {
  while (!cooling_.empty()) {
    const auto& [until, ip] = cooling_.front();
    auto it = ips_.find(ip);
    bool current = it != ips_.end() && it->second.state == IpState::cooling && it->second.cool_until == until;
    if (current) {
      if (until > now) break;
      IpSlot& slot = it->second;
      slot.state = IpState::free;
      --cooling_count_;
      --enis_.at(slot.eni_id).cooling;
      free_.insert({slot.device_number, ip});
    }
    cooling_.pop_front();
  }
}

void Datastore::add_eni_locked(const EniInfo& eni) {
  if (enis_.count(eni.id)) throw Error(Errc::already_exists, "IPAM: ENI " + eni.id + " is already known");
  EniEntry entry;
  entry.info = eni;
  entry.info.secondary_ips.clear();
  entry.added_at = options_.clock();
  auto [it, inserted] = enis_.emplace(eni.id, std::move(entry));
  (void)inserted;
  add_ips_locked(it->second, eni.secondary_ips);
}

int Datastore::add_ips_locked(EniEntry& eni, const std::vector<IpAddress>& ips) {
  int added = 0;
  for (const IpAddress& ip : ips) {
    if (ip == eni.info.primary_ip) continue;  // an ENI's own address is never a pod's
    if (auto it = ips_.find(ip); it != ips_.end()) {
      if (it->second.eni_id != eni.info.id) {
        log::warn("IPAM: IP listed on two ENIs; keeping the first",
                  {{"ip", ip.to_string()}, {"eni", it->second.eni_id}, {"also_on", eni.info.id}});
      }
      continue;
    }
    IpSlot slot;
    slot.eni_id = eni.info.id;
    slot.device_number = eni.info.device_number;
    ips_.emplace(ip, std::move(slot));
    eni.ips.insert(ip);
    free_.insert({eni.info.device_number, ip});
    ++added;
  }
  return added;
}

void Datastore::remove_ip_locked(const IpAddress& ip) {
  auto it = ips_.find(ip);
  if (it == ips_.end()) return;
  IpSlot& slot = it->second;
  EniEntry& eni = enis_.at(slot.eni_id);
  if (slot.state == IpState::free) free_.erase({slot.device_number, ip});
  if (slot.state == IpState::cooling) {
    --cooling_count_;
    --eni.cooling;
  }
  eni.ips.erase(ip);
  ips_.erase(it);
}

void Datastore::assign_locked(const IpAddress& ip, IpSlot& slot, const std::string& sandbox_id,
                              const std::string& ns, const std::string& name) {
  free_.erase({slot.device_number, ip});
  slot.state = IpState::assigned;
  slot.sandbox_id = sandbox_id;
  slot.used_before = true;
  ++assigned_;
  ++enis_.at(slot.eni_id).assigned;
  by_sandbox_[sandbox_id] = AllocationRecord{ns, name, ip};
}

// Drops the assignment counts; the caller sets the new state.
void Datastore::unassign_locked(IpSlot& slot, const IpAddress& ip) {
  (void)ip;
  slot.sandbox_id.clear();
  --assigned_;
  --enis_.at(slot.eni_id).assigned;
}

Allocation Datastore::describe_locked(const std::string& sandbox_id, const AllocationRecord& record) const {
  const IpSlot& slot = ips_.at(record.ip);
  Allocation out;
  out.sandbox_id = sandbox_id;
  out.pod_namespace = record.pod_namespace;
  out.pod_name = record.pod_name;
  out.ip = record.ip;
  out.eni_id = slot.eni_id;
  out.device_number = slot.device_number;
  if (slot.device_number != 0) out.route_table = eni_route_table(slot.device_number);
  return out;
}

DatastoreState Datastore::snapshot_locked() const {
  DatastoreState state;
  for (const auto& [id, entry] : enis_) {
    EniInfo eni = entry.info;
    eni.secondary_ips.assign(entry.ips.begin(), entry.ips.end());
    state.enis.push_back(std::move(eni));
  }
  std::sort(state.enis.begin(), state.enis.end(),
            [](const EniInfo& a, const EniInfo& b) { return a.device_number < b.device_number; });
  for (const auto& [id, record] : by_sandbox_) state.allocations.push_back(describe_locked(id, record));
  std::sort(state.allocations.begin(), state.allocations.end(),
            [](const Allocation& a, const Allocation& b) { return a.sandbox_id < b.sandbox_id; });
  for (const auto& [ip, slot] : ips_) {
    if (slot.state == IpState::cooling) state.cooling.push_back(ip);
  }
  return state;
}

void Datastore::persist_locked(PersistCause cause) {
  const uint64_t change = ++changed_seq_;
  write_locked(snapshot_locked(), cause);
  written_seq_ = change;
}

void Datastore::write_locked(const DatastoreState& state, PersistCause cause) {
  if (!persist_) return;
  // An inventory change whose write failed rides on the next write, which is then as durable as
  // an inventory write (checkpoint::save syncs less for allocations and releases).
  if (inventory_unwritten_) cause = PersistCause::inventory;
  try {
    persist_(state, cause);
  } catch (...) {
    if (cause == PersistCause::inventory) inventory_unwritten_ = true;
    throw;
  }
  inventory_unwritten_ = false;
}

void Datastore::persist_through(uint64_t change, PersistCause cause) {
  std::lock_guard write(write_mu_);
  if (written_seq_ >= change) return;  // a write since carried this change
  DatastoreState state;
  uint64_t newest = 0;
  {
    std::lock_guard lock(mu_);
    state = snapshot_locked();
    newest = changed_seq_;
  }
  // Writes are serialised by write_mu_ and each takes its snapshot under it: a newer state is
  // never overwritten by an older one.
  write_locked(state, cause);
  written_seq_ = newest;
}

void Datastore::persist_or_log_locked() {
  try {
    persist_locked(PersistCause::inventory);
  } catch (const std::exception& e) {
    log::error("IPAM: could not record an inventory change; the next change retries", {{"error", e.what()}});
  }
}

void Datastore::queue_flush_locked(const IpAddress& ip, FlushRequest::Reason reason, const std::string& sandbox_id) {
  if (flush_.size() >= kMaxQueuedFlushes) flush_.pop_front();
  flush_.push_back(FlushRequest{ip, reason, sandbox_id});
}

Datastore::Exhaustion Datastore::exhaustion_locked(TimePoint now) const {
  std::string msg = "no free IP on this node: ";
  int total = static_cast<int>(ips_.size());
  if (cooling_count_ > 0) {
    // expire_cooldowns_locked left a current entry at the front: the next IP to come back.
    long long wait = cooling_.empty() ? 0 : std::max(1LL, seconds_until(now, cooling_.front().first));
    return {"cooling", msg + std::to_string(assigned_) + " in use, " + std::to_string(cooling_count_) +
           " cooling down (free again within " + std::to_string(wait) + " s)"};
  }
  msg += std::to_string(assigned_) + " of " + std::to_string(total) + " in use";
  int enis = static_cast<int>(enis_.size());
  if (max_enis_ > 0 && enis >= max_enis_ && total >= max_enis_ * pod_ips_per_eni_) {
    return {"eni_limit", msg + ", ENI limit " + std::to_string(max_enis_) + " reached (" + std::to_string(max_enis_) + " ENIs x " +
           std::to_string(pod_ips_per_eni_) +
           " pod IPs); run fewer pods on this node (lower kubelet max-pods) or give it more ENIs/IPs per ENI"};
  }
  if (growth_block_) {
    long long wait = seconds_until(now, growth_block_->until);
    std::string when = wait > 0 ? "next attempt in " + std::to_string(wait) + " s" : "retrying now";
    if (growth_block_->kind == GrowthBlock::Kind::subnet_full) {
      // The provider's own words name the fix for its cloud (e.g. network.aws.subnets).
      if (!growth_block_->error.empty()) {
        return {"subnet_full", msg + ", subnet " + growth_block_->subnet_id + " has no free addresses (" + when +
                                   "): " + growth_block_->error};
      }
      return {"subnet_full", msg + ", subnet " + growth_block_->subnet_id + " has no free addresses (" + when +
                                 "); free addresses in the subnet or move the node to a larger one"};
    }
    return {"provider_error", msg + ", adding addresses failed: " + growth_block_->error + " (" + when + ")"};
  }
  if (max_enis_ == 0) {
    return {"pool_not_described",
            msg + "; the pool manager has not described the node yet (is the IPAM provider reachable?), retry shortly"};
  }
  return {"pool_growing", msg + "; the pool manager is adding addresses (" + std::to_string(enis) + " of " +
                              std::to_string(max_enis_) + " ENIs attached), retry shortly"};
}

}  // namespace vpcri::net::ipam

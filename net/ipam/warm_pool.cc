#include "net/ipam/warm_pool.h"

#include <algorithm>

#include "common/log.h"

namespace vpcri::net::ipam {
namespace {

std::string seconds_text(std::chrono::seconds s) { return std::to_string(s.count()) + " s"; }

}  // namespace

WarmPool::WarmPool(Provider& provider, Datastore& datastore, WarmPoolConfig config)
    : provider_(provider), datastore_(datastore), config_(std::move(config)) {
  status_.message = "IPAM provider " + provider_.name() + " has not described the node yet";
}

WarmPool::~WarmPool() { stop(); }

void WarmPool::start() {
  std::lock_guard lock(wake_mu_);
  if (worker_.joinable()) return;
  stopping_ = false;
  worker_ = std::thread([this] { worker_loop(); });
}

void WarmPool::stop() {
  {
    std::lock_guard lock(wake_mu_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void WarmPool::poke() {
  {
    std::lock_guard lock(wake_mu_);
    poked_ = true;
  }
  wake_cv_.notify_all();
}

bool WarmPool::wait_ready(std::chrono::milliseconds timeout) {
  std::unique_lock lock(wake_mu_);
  return ready_cv_.wait_for(lock, timeout, [this] { return ready_.load(); });
}

WarmPoolStatus WarmPool::status() const {
  std::lock_guard lock(status_mu_);
  WarmPoolStatus out = status_;
  out.ready = ready_.load();
  return out;
}

void WarmPool::worker_loop() {
  std::unique_lock lock(wake_mu_);
  while (!stopping_) {
    poked_ = false;
    lock.unlock();
    try {
      run_once();
    } catch (const std::exception& e) {  // run_once handles provider errors; this is a bug, keep the pool alive
      log::error("IPAM pool manager pass failed", {{"error", e.what()}});
    }
    lock.lock();
    wake_cv_.wait_for(lock, config_.check_interval, [this] { return stopping_ || poked_; });
  }
}

void WarmPool::run_once() {
  std::lock_guard lock(run_mu_);
  TimePoint now = config_.clock();
  if (now < backoff_until_) return;
  if (!initialized_ && !initialize(now)) return;
  if (now >= next_reconcile_) reconcile(now);
  if (now < backoff_until_) return;
  grow(now);
  if (now < backoff_until_) return;
  shrink(now);
  mark_ready_if_stocked();
}

bool WarmPool::initialize(TimePoint now) {
  try {
    count_call();
    NodeInfo node = provider_.describe_node();
    if (node.max_enis < 1 || node.ips_per_eni < 2) {
      throw ProviderError(ProviderErrc::other, "IPAM provider " + provider_.name() + " reports max_enis " +
                                                   std::to_string(node.max_enis) + " and ips_per_eni " +
                                                   std::to_string(node.ips_per_eni) +
                                                   "; need at least 1 ENI of 2 addresses");
    }
    count_call();
    std::vector<EniInfo> attached = provider_.list_enis();
    node_ = std::move(node);
    pod_ips_per_eni_ = node_.ips_per_eni - 1;
    datastore_.set_limits(node_.max_enis, pod_ips_per_eni_);
    ReconcileReport report = datastore_.reconcile(attached);
    notify_eni_observer();
    initialized_ = true;
    next_reconcile_ = now + config_.reconcile_interval;
    {
      std::lock_guard lock(status_mu_);
      status_.node = node_;
    }
    on_success(false);
    log::info("IPAM pool manager started",
              {{"provider", provider_.name()},
               {"instance", node_.instance_id},
               {"max_enis", std::to_string(node_.max_enis)},
               {"ips_per_eni", std::to_string(node_.ips_per_eni)},
               {"enis", std::to_string(attached.size())},
               {"ips_added", std::to_string(report.added_ips)}});
    // At start too, not only at the first reconcile: what a crash between creating and
    // attaching an ENI leaked goes as soon as the node is back.
    sweep_leaked_enis();
    return true;
  } catch (const std::exception& e) {
    on_error("describe the node", e, now);
    return false;
  }
}

void WarmPool::reconcile(TimePoint now) {
  next_reconcile_ = now + config_.reconcile_interval;
  full_enis_.clear();  // addresses given back since may have made room
  try {
    count_call();
    std::vector<EniInfo> attached = provider_.list_enis();
    ReconcileReport report = datastore_.reconcile(attached);
    notify_eni_observer();  // also when unchanged: retries what the observer could not do last time
    if (report.changed()) {
      log::info("IPAM reconcile changed the inventory",
                {{"added_enis", std::to_string(report.added_enis)},
                 {"added_ips", std::to_string(report.added_ips)},
                 {"removed_enis", std::to_string(report.removed_enis)},
                 {"removed_ips", std::to_string(report.removed_ips)}});
    }
    on_success(false);
  } catch (const std::exception& e) {
    on_error("list ENIs", e, now);
    return;
  }
  sweep_leaked_enis();
}

void WarmPool::sweep_leaked_enis() {
  // Leaked ENIs cost addresses but no pod needs them: a failed sweep is logged, not backed off.
  try {
    int deleted = provider_.sweep_leaked();
    if (deleted > 0) log::info("IPAM deleted leaked ENIs", {{"count", std::to_string(deleted)}});
  } catch (const std::exception& e) {
    log::warn("IPAM leaked-ENI sweep failed", {{"provider", provider_.name()}, {"error", e.what()}});
  }
}

void WarmPool::grow(TimePoint now) {
  const WarmTargets& targets = config_.targets;
  // Each step is one provider call (attach an ENI, or add IPs to one); a new ENI takes two steps.
  for (int step = 0; step < 2 * node_.max_enis + 1; ++step) {
    PoolStats stats = datastore_.stats();
    if (!pool_too_low(targets, stats.total, stats.assigned, pod_ips_per_eni_, config_.max_pods)) return;
    if (now < growth_paused_until_) return;

    std::vector<EniStats> enis = datastore_.eni_stats();
    auto with_room = std::find_if(enis.begin(), enis.end(), [this](const EniStats& e) {
      return e.ips < pod_ips_per_eni_ && full_enis_.count(e.id) == 0;
    });
    if (with_room != enis.end()) {
      int count = ips_to_request(targets, stats.total, stats.assigned, pod_ips_per_eni_ - with_room->ips);
      if (config_.max_pods > 0) count = std::min(count, config_.max_pods - stats.total);
      if (count <= 0) return;
      try {
        count_call();
        std::vector<IpAddress> ips = provider_.assign_ips(with_room->id, count);
        int added = datastore_.add_ips(with_room->id, ips);
        on_success(true);
        log::info("IPAM added IPs", {{"eni", with_room->id}, {"count", std::to_string(added)}});
        if (added == 0) return;  // the provider gave nothing new: do not spin
      } catch (const ProviderError& e) {
        if (e.kind() == ProviderErrc::eni_limit_reached) {
          // The ENI holds fewer addresses than the node's limits say (e.g. single IPs in prefix
          // slots): take it as full until the next reconcile and grow elsewhere.
          full_enis_.insert(with_room->id);
          log::info("IPAM: the provider says this ENI is full", {{"eni", with_room->id}, {"error", e.what()}});
          continue;
        }
        on_error("assign " + std::to_string(count) + " IPs to ENI " + with_room->id, e, now);
        return;
      } catch (const std::exception& e) {
        on_error("assign " + std::to_string(count) + " IPs to ENI " + with_room->id, e, now);
        return;
      }
      continue;
    }
    if (stats.enis >= node_.max_enis || now < eni_creation_blocked_until_) return;
    try {
      count_call();
      EniInfo eni = provider_.create_eni();
      datastore_.add_eni(eni);
      notify_eni_observer();  // its interface is ready before the ENI gets IPs pods could take
      on_success(true);
      log::info("IPAM attached ENI", {{"eni", eni.id}, {"device", std::to_string(eni.device_number)}});
    } catch (const std::exception& e) {
      on_error("create and attach an ENI", e, now);
      return;
    }
  }
}

void WarmPool::shrink(TimePoint now) {
  if (last_shrink_ && now - *last_shrink_ < config_.shrink_interval) return;
  const WarmTargets& targets = config_.targets;
  bool shrank = false;

  PoolStats stats = datastore_.stats();
  if (pool_too_high(targets, stats.total, stats.assigned)) {
    int over = ip_target_state(targets, stats.total, stats.assigned).over_by;
    auto groups = datastore_.take_free_ips(over);
    for (size_t i = 0; i < groups.size(); ++i) {
      const auto& [eni_id, ips] = groups[i];
      try {
        count_call();
        provider_.unassign_ips(eni_id, ips);
        shrank = true;
        on_success(false);
        log::info("IPAM gave back IPs", {{"eni", eni_id}, {"count", std::to_string(ips.size())}});
      } catch (const std::exception& e) {
        // Not given back: they are still ours, so they return to the pool (this one and the rest).
        for (size_t j = i; j < groups.size(); ++j) datastore_.add_ips(groups[j].first, groups[j].second);
        on_error("unassign " + std::to_string(ips.size()) + " IPs from ENI " + eni_id, e, now);
        break;
      }
    }
  }
  if (now >= backoff_until_) {
    stats = datastore_.stats();
    if (may_remove_extra_enis(targets, stats.total, stats.assigned, pod_ips_per_eni_) && try_free_eni(now)) {
      shrank = true;
    }
  }
  if (shrank) last_shrink_ = now;
}

bool WarmPool::try_free_eni(TimePoint now) {
  const WarmTargets& targets = config_.targets;
  PoolStats stats = datastore_.stats();
  std::vector<EniStats> enis = datastore_.eni_stats();
  // Highest device number first: allocation fills the lowest ones, so the highest drain first.
  for (auto it = enis.rbegin(); it != enis.rend(); ++it) {
    const EniStats& e = *it;
    if (e.primary || e.assigned > 0 || e.cooling > 0) continue;
    if (now - e.added_at < config_.eni_min_lifetime) continue;
    if (targets.ip_targets_defined() &&
        eni_needed_for_ip_targets(targets, stats.total, stats.assigned, e.ips, e.ips - e.assigned)) {
      continue;
    }
    EniInfo removed;
    try {
      removed = datastore_.remove_eni(e.id);  // re-checks "unused" atomically: a pod may just have taken an IP
    } catch (const Error& err) {
      log::debug("IPAM: ENI no longer free to remove", {{"eni", e.id}, {"reason", err.what()}});
      continue;
    }
    notify_eni_observer();  // the ENI's routes and rules go while its interface is still there
    try {
      count_call();
      provider_.delete_eni(e.id);
      on_success(false);
      log::info("IPAM freed ENI", {{"eni", e.id}, {"ips", std::to_string(removed.secondary_ips.size())}});
      return true;
    } catch (const std::exception& err) {
      datastore_.add_eni(removed);  // still attached: its IPs are still usable
      notify_eni_observer();
      on_error("detach and delete ENI " + e.id, err, now);
      return false;
    }
  }
  return false;
}

void WarmPool::notify_eni_observer() {
  if (!config_.eni_observer) return;
  try {
    config_.eni_observer->enis_changed(datastore_.enis());
  } catch (const std::exception& e) {
    log::warn("IPAM: the ENI observer failed", {{"error", e.what()}});
  }
}

void WarmPool::on_success(bool growth) {
  backoff_ = std::chrono::seconds{0};
  if (growth) datastore_.set_growth_block(std::nullopt);
  set_message("");
}

void WarmPool::on_error(const std::string& op, const std::exception& e, TimePoint now) {
  ProviderErrc kind = ProviderErrc::other;
  if (auto* pe = dynamic_cast<const ProviderError*>(&e)) kind = pe->kind();
  std::string what = "IPAM provider " + provider_.name() + " failed to " + op + ": " + e.what();
  std::chrono::seconds retry_in{0};
  switch (kind) {
    case ProviderErrc::insufficient_addresses:
      retry_in = config_.insufficient_addresses_pause;
      growth_paused_until_ = now + retry_in;
      datastore_.set_growth_block(
          GrowthBlock{GrowthBlock::Kind::subnet_full, node_.subnet_id, e.what(), growth_paused_until_});
      break;
    case ProviderErrc::eni_limit_reached:
      retry_in = config_.reconcile_interval;
      eni_creation_blocked_until_ = now + retry_in;
      next_reconcile_ = now;  // our count disagrees with the provider's: re-read it on the next pass
      datastore_.set_growth_block(GrowthBlock{GrowthBlock::Kind::provider_error, "", e.what(), now + retry_in});
      break;
    case ProviderErrc::throttled:
    case ProviderErrc::other:
      backoff_ = backoff_.count() == 0 ? config_.backoff_initial : std::min(backoff_ * 2, config_.backoff_max);
      retry_in = backoff_;
      backoff_until_ = now + backoff_;
      datastore_.set_growth_block(GrowthBlock{GrowthBlock::Kind::provider_error, "", e.what(), backoff_until_});
      break;
  }
  {
    std::lock_guard lock(status_mu_);
    ++status_.provider_errors;
  }
  set_message(what + " (" + provider_errc_name(kind) + "; next attempt in " + seconds_text(retry_in) + ")");
  log::warn("IPAM provider call failed", {{"provider", provider_.name()},
                                          {"op", op},
                                          {"kind", provider_errc_name(kind)},
                                          {"error", e.what()},
                                          {"retry_in", seconds_text(retry_in)}});
}

void WarmPool::set_message(std::string message) {
  std::lock_guard lock(status_mu_);
  if (message.empty() && !initialized_) return;  // keep saying why we are not ready
  status_.message = std::move(message);
}

void WarmPool::count_call() {
  std::lock_guard lock(status_mu_);
  ++status_.provider_calls;
}

void WarmPool::mark_ready_if_stocked() {
  if (ready_.load() || !initialized_) return;
  if (datastore_.stats().total == 0) {
    std::lock_guard lock(status_mu_);
    if (status_.message.empty()) status_.message = "the IP pool has no addresses yet";
    return;
  }
  {
    std::lock_guard lock(wake_mu_);
    ready_.store(true);
  }
  ready_cv_.notify_all();
}

}  // namespace vpcri::net::ipam

// The pool manager: keeps the datastore's free IPs at the warm targets by calling the provider
// from its own worker thread (never from the RPC path), as the AWS VPC CNI's ipamd does:
//   - every check_interval (and when poked): grow while the pool is too low, one provider call at
//     a time (add IPs to the lowest ENI with room, else attach a new ENI while under the limit);
//     shrink at most once per shrink_interval (give back free IPs over the IP targets, or free
//     one unused ENI older than eni_min_lifetime); never gives back an IP or ENI in use or
//     cooling down (the datastore checks that atomically);
//   - every reconcile_interval: re-read the attached ENIs from the provider;
//   - an ENI the provider refuses more IPs ("ENI limit reached" on assign) counts as full until
//     the next reconcile, so growth moves on to the next ENI or a new one;
//   - provider errors: throttled and other errors back off exponentially (all calls wait);
//     insufficient addresses pause growth for insufficient_addresses_pause; "ENI limit reached"
//     stops attaching ENIs until the next reconcile. The datastore is told, so "no free IP"
//     messages say why.
// Tests call run_once() directly with an injected clock instead of start().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "net/ipam/clock.h"
#include "net/ipam/datastore.h"
#include "net/ipam/eni_observer.h"
#include "net/ipam/provider.h"
#include "net/ipam/warm_targets.h"

namespace vpcri::net::ipam {

struct WarmPoolConfig {
  WarmTargets targets;
  int max_pods = 0;  // > 0: never hold more IPs than this (kubelet max-pods)
  std::chrono::seconds check_interval{5};
  std::chrono::seconds reconcile_interval{60};
  std::chrono::seconds shrink_interval{30};
  std::chrono::seconds eni_min_lifetime{60};
  std::chrono::seconds insufficient_addresses_pause{120};
  std::chrono::seconds backoff_initial{1};
  std::chrono::seconds backoff_max{64};
  Clock clock = steady_clock();
  EniObserver* eni_observer = nullptr;  // told of ENI changes (eni_observer.h); must outlive the pool
};

struct WarmPoolStatus {
  bool ready = false;
  std::string message;  // why not ready, or the last provider error ("" when all is well)
  std::optional<NodeInfo> node;
  long provider_calls = 0;
  long provider_errors = 0;
};

class WarmPool {
 public:
  // provider and datastore must outlive the pool.
  WarmPool(Provider& provider, Datastore& datastore, WarmPoolConfig config);
  ~WarmPool();  // stops the worker
  WarmPool(const WarmPool&) = delete;
  WarmPool& operator=(const WarmPool&) = delete;

  void start();
  void stop();
  // Hands the datastore's ENIs to the observer, if any: after each ENI change of a pass, and from
  // Ipam::restore (before start()).
  void notify_eni_observer();
  // Runs a check soon instead of at the next interval (after an allocation or a release).
  void poke();

  // One pass: describe the node if not done yet, reconcile if due, grow, shrink. Serialised
  // with the worker; provider errors are handled here, never thrown.
  void run_once();

  // The node has been described, its ENIs listed and the pool has held IPs at least once, so
  // pods can get addresses (CRI Status NetworkReady). Stays true once reached: a full node is
  // still network-ready, its pods just have to wait for addresses.
  bool ready() const { return ready_.load(); }
  // Waits (real time) until ready() or timeout; for startup, not for tests of the arithmetic.
  bool wait_ready(std::chrono::milliseconds timeout);
  WarmPoolStatus status() const;

 private:
  bool initialize(TimePoint now);
  void reconcile(TimePoint now);
  void sweep_leaked_enis();
  void grow(TimePoint now);
  void shrink(TimePoint now);
  bool try_free_eni(TimePoint now);
  void on_success(bool growth);
  void on_error(const std::string& op, const std::exception& e, TimePoint now);
  void set_message(std::string message);
  void count_call();
  void mark_ready_if_stocked();
  void worker_loop();

  Provider& provider_;
  Datastore& datastore_;
  const WarmPoolConfig config_;

  // State of the passes: only touched under run_mu_.
  std::mutex run_mu_;
  bool initialized_ = false;
  NodeInfo node_;
  int pod_ips_per_eni_ = 0;
  std::chrono::seconds backoff_{0};
  TimePoint backoff_until_{};
  TimePoint growth_paused_until_{};
  TimePoint eni_creation_blocked_until_{};
  TimePoint next_reconcile_{};
  std::optional<TimePoint> last_shrink_;
  std::set<std::string> full_enis_;  // the provider refused more IPs on these (until the next reconcile)

  // Status for other threads.
  std::atomic<bool> ready_{false};
  mutable std::mutex status_mu_;
  WarmPoolStatus status_;

  // Worker.
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  std::condition_variable ready_cv_;
  bool stopping_ = false;
  bool poked_ = false;
  std::thread worker_;
};

}  // namespace vpcri::net::ipam

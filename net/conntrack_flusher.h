// Conntrack flushes of released and reused pod IPs (net/datapath/conntrack.h), batched and kept
// off StopPodSandbox's path. Each flush walks the kernel's whole conntrack table (milliseconds
// even when it is empty, with bottom halves off: RCU grace periods, which unmounts and cgroup
// removals wait for, wait for the walk too), so a background thread drains every queued IP at
// once, one walk for all of them, and at most one walk per `min_interval` (a released IP cools
// down for far longer). A reused IP must be clean before its new pod uses it: attach calls
// flush_now(), which waits for a walk that covers it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "net/ipam/datastore.h"

namespace vpcri::net {

class ConntrackFlusher {
 public:
  using Drain = std::function<std::vector<ipam::FlushRequest>()>;
  using Flush = std::function<size_t(const std::vector<IpAddress>&)>;

  // `drain` hands over the queued requests (ipam::Datastore::drain_flush_requests); `flush`
  // deletes the entries of a batch of IPs. The thread runs in the creating thread's network
  // namespace, where the node's conntrack table is.
  ConntrackFlusher(Drain drain, Flush flush, std::chrono::milliseconds min_interval = std::chrono::seconds(1));
  ~ConntrackFlusher();  // finishes what is queued, then stops
  ConntrackFlusher(const ConntrackFlusher&) = delete;
  ConntrackFlusher& operator=(const ConntrackFlusher&) = delete;

  // Something was queued: the thread flushes it soon.
  void wake();
  // Flushes everything queued now, in the calling thread, after any walk in progress (which may
  // have taken a request this call would have seen). Errors are logged, not thrown: stale
  // entries only disturb a later pod with the IP.
  void flush_now();

 private:
  void run();

  Drain drain_;
  Flush flush_;
  const std::chrono::milliseconds min_interval_;
  std::mutex walk_mu_;  // one drain + walk at a time
  std::mutex mu_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace vpcri::net

// The CRI event stream (GetContainerEvents), which kubelet's evented PLEG follows instead of
// relisting every second. Each lifecycle change of a container or pod sandbox is published once,
// with the pod's status and its containers' statuses as they are right after the change (as
// containerd sends them; a sandbox's own events carry its id as container_id).
//
// Publishing never blocks: every subscriber has a bounded queue, and one that falls behind is
// cut off (its stream ends with an error and a log line), so kubelet resubscribes and relists
// instead of vpcrid waiting on a slow reader or holding events without bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cri/api/cri_api.h"

namespace vpcri::cri {

class ContainerEventBus {
 public:
  class Subscription {
   public:
    // The next event, or nullopt after `timeout` (or once cut off or closed: check overflowed()
    // and closed()).
    std::optional<::runtime::v1::ContainerEventResponse> next(std::chrono::milliseconds timeout);
    bool overflowed() const;
    bool closed() const;

   private:
    friend class ContainerEventBus;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<::runtime::v1::ContainerEventResponse> queue_;
    bool overflowed_ = false;
    bool closed_ = false;
  };

  explicit ContainerEventBus(size_t queue_limit) : queue_limit_(queue_limit) {}

  std::shared_ptr<Subscription> subscribe();
  void unsubscribe(const std::shared_ptr<Subscription>& subscription);
  bool has_subscribers() const;
  void publish(const ::runtime::v1::ContainerEventResponse& event);
  // Ends every subscription, and those made later, at once: vpcrid is stopping. Without it a
  // stream (kubelet always holds one) would keep the gRPC server's shutdown waiting its deadline.
  void close();

 private:
  const size_t queue_limit_;
  mutable std::mutex mu_;
  bool closed_ = false;
  std::list<std::shared_ptr<Subscription>> subscribers_;
};

}  // namespace vpcri::cri

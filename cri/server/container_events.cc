#include "cri/server/container_events.h"

#include <algorithm>

namespace vpcri::cri {

std::optional<::runtime::v1::ContainerEventResponse> ContainerEventBus::Subscription::next(
    std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || overflowed_ || closed_; });
  if (overflowed_ || closed_ || queue_.empty()) return std::nullopt;
  auto event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

bool ContainerEventBus::Subscription::overflowed() const {
  std::lock_guard lock(mu_);
  return overflowed_;
}

bool ContainerEventBus::Subscription::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

std::shared_ptr<ContainerEventBus::Subscription> ContainerEventBus::subscribe() {
  auto subscription = std::make_shared<Subscription>();
  std::lock_guard lock(mu_);
  if (closed_) {
    subscription->closed_ = true;  // not shared yet: no lock needed
  } else {
    subscribers_.push_back(subscription);
  }
  return subscription;
}

void ContainerEventBus::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (const auto& subscription : subscribers_) {
    {
      std::lock_guard sub_lock(subscription->mu_);
      subscription->closed_ = true;
    }
    subscription->cv_.notify_all();
  }
  subscribers_.clear();
}

void ContainerEventBus::unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  std::lock_guard lock(mu_);
  subscribers_.remove(subscription);
}

bool ContainerEventBus::has_subscribers() const {
  std::lock_guard lock(mu_);
  return !subscribers_.empty();
}

void ContainerEventBus::publish(const ::runtime::v1::ContainerEventResponse& event) {
  std::lock_guard lock(mu_);
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    Subscription& s = **it;
    bool cut_off = false;
    {
      std::lock_guard sub_lock(s.mu_);
      if (s.queue_.size() >= queue_limit_) {
        // Dropping one event silently would leave kubelet's cache wrong; ending the stream
        // makes it relist.
        s.overflowed_ = true;
        s.queue_.clear();
        cut_off = true;
      } else {
        s.queue_.push_back(event);
      }
    }
    s.cv_.notify_all();
    it = cut_off ? subscribers_.erase(it) : std::next(it);
  }
}

}  // namespace vpcri::cri

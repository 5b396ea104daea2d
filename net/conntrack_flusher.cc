#include "net/conntrack_flusher.h"

#include <exception>
#include <string>

#include "common/log.h"

namespace vpcri::net {

ConntrackFlusher::ConntrackFlusher(Drain drain, Flush flush, std::chrono::milliseconds min_interval)
    : drain_(std::move(drain)), flush_(std::move(flush)), min_interval_(min_interval), thread_([this] { run(); }) {}

ConntrackFlusher::~ConntrackFlusher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_cv_.notify_one();
  thread_.join();
}

void ConntrackFlusher::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_cv_.notify_one();
}

void ConntrackFlusher::flush_now() {
  std::lock_guard walk(walk_mu_);
  auto requests = drain_();
  if (requests.empty()) return;
  std::vector<IpAddress> ips;
  std::string sandboxes;
  for (const auto& r : requests) {
    ips.push_back(r.ip);
    sandboxes += (sandboxes.empty() ? "" : ",") + r.sandbox_id;
  }
  try {
    size_t n = flush_(ips);
    log::write(n > 0 ? log::Level::info : log::Level::debug, "conntrack entries flushed",
               {{"ips", std::to_string(ips.size())}, {"entries", std::to_string(n)}, {"sandboxes", sandboxes}});
  } catch (const std::exception& e) {
    log::warn("conntrack flush failed", {{"ips", std::to_string(ips.size())}, {"sandboxes", sandboxes},
                                         {"error", e.what()}});
  }
}

void ConntrackFlusher::run() {
  auto next_walk = std::chrono::steady_clock::now();
  for (;;) {
    bool stop;
    {
      std::unique_lock lock(mu_);
      wake_cv_.wait(lock, [&] { return woken_ || stopping_; });
      // What else is released meanwhile joins this walk.
      wake_cv_.wait_until(lock, next_walk, [&] { return stopping_; });
      woken_ = false;
      stop = stopping_;
    }
    flush_now();
    if (stop) return;
    next_walk = std::chrono::steady_clock::now() + min_interval_;
  }
}

}  // namespace vpcri::net

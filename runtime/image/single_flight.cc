#include "runtime/image/single_flight.h"

#include "common/log.h"

namespace vpcri::runtime::image {

bool SingleFlight::run(const std::string& key, const std::function<bool()>& done, const std::function<void()>& work) {
  for (;;) {
    if (done()) return false;
    std::unique_lock lock(mu_);
    if (auto it = running_.find(key); it != running_.end()) {
      std::shared_future<void> other = it->second;
      lock.unlock();
      try {
        other.get();
      } catch (const std::exception& e) {
        log::info("a concurrent attempt failed; trying again", {{"key", key}, {"error", e.what()}});
      }
      continue;
    }
    if (done()) return false;  // finished between the first check and taking the lock
    std::promise<void> finished;
    running_.emplace(key, finished.get_future().share());
    lock.unlock();
    try {
      work();
    } catch (...) {
      lock.lock();
      running_.erase(key);
      finished.set_exception(std::current_exception());
      throw;
    }
    lock.lock();
    running_.erase(key);
    finished.set_value();
    return true;
  }
}

}  // namespace vpcri::runtime::image

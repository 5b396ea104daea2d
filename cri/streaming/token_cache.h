// Single-use, unguessable, short-lived tokens: the last path element of the URLs the Exec, Attach
// and PortForward RPCs return. Whoever holds a token may run what the RPC authorised, once.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "cri/streaming/session.h"

namespace vpcri::streaming {

class TokenCache {
 public:
  using Clock = std::chrono::steady_clock;
  // `now` is injectable so tests need no sleeps.
  TokenCache(std::chrono::milliseconds ttl, size_t max_entries, std::function<Clock::time_point()> now = Clock::now);

  // A fresh token for `request`: 8 random bytes (getrandom), unpadded base64url (11 chars).
  // Throws Errc::resource_exhausted when `max_entries` unexpired tokens are waiting.
  std::string insert(std::shared_ptr<const Request> request);
  // The request, removed from the cache whether or not it had expired; nullptr if unknown or
  // expired.
  std::shared_ptr<const Request> consume(const std::string& token);
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const Request> request;
    Clock::time_point expires;
  };
  void purge_expired(Clock::time_point now);  // under mu_

  std::chrono::milliseconds ttl_;
  size_t max_entries_;
  std::function<Clock::time_point()> now_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<Clock::time_point, std::string>> order_;  // insertion order = expiry order
};

}  // namespace vpcri::streaming

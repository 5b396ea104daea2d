#include "cri/streaming/token_cache.h"

#include <sys/random.h>

#include <cerrno>

#include "common/error.h"

namespace vpcri::streaming {
namespace {

std::string random_token() {
  unsigned char bytes[8];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("getrandom for a streaming token");
    got += static_cast<size_t>(n);
  }
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

}  // namespace

TokenCache::TokenCache(std::chrono::milliseconds ttl, size_t max_entries, std::function<Clock::time_point()> now)
    : ttl_(ttl), max_entries_(max_entries), now_(std::move(now)) {}

void TokenCache::purge_expired(Clock::time_point now) {
  while (!order_.empty() && order_.front().first <= now) {
    entries_.erase(order_.front().second);  // may be gone already (consumed): erase is a no-op then
    order_.pop_front();
  }
}

std::string TokenCache::insert(std::shared_ptr<const Request> request) {
  std::lock_guard lock(mu_);
  auto now = now_();
  purge_expired(now);
  // Consumed tokens leave stale entries in order_ until they expire; count the live ones.
  if (entries_.size() >= max_entries_) {
    throw Error(Errc::resource_exhausted, "maximum number of in-flight streaming requests exceeded");
  }
  std::string token;
  do token = random_token();
  while (entries_.count(token) != 0);
  entries_.emplace(token, Entry{std::move(request), now + ttl_});
  order_.emplace_back(now + ttl_, token);
  return token;
}

std::shared_ptr<const Request> TokenCache::consume(const std::string& token) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(token);
  if (it == entries_.end()) return nullptr;
  Entry entry = std::move(it->second);
  entries_.erase(it);
  if (entry.expires <= now_()) return nullptr;
  return entry.request;
}

size_t TokenCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace vpcri::streaming

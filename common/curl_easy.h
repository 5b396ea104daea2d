// libcurl plumbing shared by vpcri's HTTP clients (registry pulls in runtime/, EC2 and instance
// metadata in net/): one global init, pooled easy handles, RAII header lists and a checked setopt.
// Each client keeps its own request shape and error mapping; only the handle bookkeeping is here.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"

namespace vpcri::curl {

// curl_global_init, once per process, before the first handle (it is not thread-safe itself).
void global_init_once();

// Idle easy handles. Reusing one keeps its connection cache and TLS sessions warm; only its
// options are reset between transfers.
class HandlePool {
 public:
  explicit HandlePool(size_t max_idle) : max_idle_(max_idle) {}
  ~HandlePool();
  HandlePool(const HandlePool&) = delete;
  HandlePool& operator=(const HandlePool&) = delete;

  CURL* acquire();
  void release(CURL* handle);

 private:
  const size_t max_idle_;
  std::mutex mutex_;
  std::vector<CURL*> idle_;
};

// One handle of a pool for the length of one transfer.
class PooledHandle {
 public:
  explicit PooledHandle(HandlePool& pool) : pool_(pool), handle_(pool.acquire()) {}
  ~PooledHandle() { pool_.release(handle_); }
  PooledHandle(const PooledHandle&) = delete;
  PooledHandle& operator=(const PooledHandle&) = delete;
  CURL* get() const { return handle_; }

 private:
  HandlePool& pool_;
  CURL* handle_;
};

// A request's header lines; freed with the transfer.
class HeaderList {
 public:
  HeaderList() = default;
  ~HeaderList() { curl_slist_free_all(list_); }
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;

  void add(const std::string& line);
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// curl_easy_setopt that throws internal on failure (an option this libcurl does not know).
template <typename T>
void set(CURL* handle, CURLoption option, T value) {
  CURLcode code = curl_easy_setopt(handle, option, value);
  if (code != CURLE_OK) throw Error(Errc::internal, std::string("curl_easy_setopt: ") + curl_easy_strerror(code));
}

}  // namespace vpcri::curl

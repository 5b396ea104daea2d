#include "common/curl_easy.h"

namespace vpcri::curl {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error(Errc::internal, "curl_global_init failed");
  });
}

HandlePool::~HandlePool() {
  for (CURL* handle : idle_) curl_easy_cleanup(handle);
}

CURL* HandlePool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      CURL* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  global_init_once();
  CURL* handle = curl_easy_init();
  if (!handle) throw Error(Errc::internal, "curl_easy_init failed");
  return handle;
}

void HandlePool::release(CURL* handle) {
  curl_easy_reset(handle);  // options only; the connection cache stays
  std::lock_guard lock(mutex_);
  if (idle_.size() < max_idle_) {
    idle_.push_back(handle);
    return;
  }
  curl_easy_cleanup(handle);
}

void HeaderList::add(const std::string& line) {
  curl_slist* grown = curl_slist_append(list_, line.c_str());
  if (!grown) throw Error(Errc::internal, "curl_slist_append failed");
  list_ = grown;
}

}  // namespace vpcri::curl

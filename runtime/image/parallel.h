// Runs fn(0..count-1) on up to `workers` threads; the first exception stops handing out new
// items and is rethrown after every thread has finished.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace vpcri::runtime::image {

inline void for_each_parallel(size_t count, size_t workers, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mu;
  auto run = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= count || failed) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(error_mu);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  size_t extra = std::min(workers, count) > 0 ? std::min(workers, count) - 1 : 0;
  for (size_t t = 0; t < extra; ++t) {
    try {
      threads.emplace_back(run);
    } catch (const std::system_error&) {
      break;  // no more threads available: the ones we have (at least this one) do the rest
    }
  }
  run();  // the calling thread works too
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace vpcri::runtime::image

// Collapses concurrent attempts at the same piece of work (fetch blob X, unpack layer Y) into one:
// later callers wait for the running attempt instead of repeating it.
#pragma once

#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>

namespace vpcri::runtime::image {

class SingleFlight {
 public:
  // Runs `work` for `key` unless `done()` says the result already exists. A caller arriving
  // while another runs `work` for the same key waits for it; if that attempt failed, the caller
  // tries itself (its inputs, e.g. credentials, may differ). Returns true if this call did the work.
  bool run(const std::string& key, const std::function<bool()>& done, const std::function<void()>& work);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_future<void>> running_;
};

}  // namespace vpcri::runtime::image

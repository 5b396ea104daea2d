// Latency statistics the bench tools share (vpcri-bench, vpcri-kernel-floor): nearest-rank
// percentiles, a summary object and log2 histograms, as JSON.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

namespace vpcri::bench {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Nearest-rank percentile of a sample set.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  // p * n first: 0.99 * 100 is 99.000...01 in floating point, and its ceiling 100.
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()) / 100.0 - 1e-9));
  if (rank < 1) rank = 1;
  return v[std::min(rank, v.size()) - 1];
}

inline nlohmann::json summarize(const std::vector<double>& v) {
  if (v.empty()) return nlohmann::json{{"n", 0}};
  double sum = 0;
  for (double x : v) sum += x;
  return nlohmann::json{{"n", v.size()},
                        {"min", *std::min_element(v.begin(), v.end())},
                        {"p50", percentile(v, 50)},
                        {"p90", percentile(v, 90)},
                        {"p99", percentile(v, 99)},
                        {"max", *std::max_element(v.begin(), v.end())},
                        {"mean", sum / static_cast<double>(v.size())}};
}

// Log2 buckets in microseconds: bucket k holds [2^k, 2^(k+1)) us.
inline nlohmann::json histogram(const std::vector<double>& ms) {
  std::map<int, int> buckets;
  for (double x : ms) {
    double us = std::max(1.0, x * 1000.0);
    buckets[static_cast<int>(std::floor(std::log2(us)))]++;
  }
  nlohmann::json out = nlohmann::json::array();
  for (auto& [k, n] : buckets) out.push_back({{"from_us", 1LL << k}, {"to_us", 1LL << (k + 1)}, {"count", n}});
  return out;
}

}  // namespace vpcri::bench

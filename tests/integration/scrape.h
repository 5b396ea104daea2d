// vpcrid's /metrics and introspection API read from inside a network namespace (the node's: the
// endpoints' default addresses are its loopback), for the tests that check them against state
// (observability_test, tests/aws/cluster_test).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "metrics/http_client.h"

namespace vpcri::test {

inline const std::string kMetricsAddress = "127.0.0.1:61678";
inline const std::string kIntrospectionAddress = "127.0.0.1:61679";

// GET `path` from `address` on a thread of its own that joins `netns` (setns is per thread), so
// the test's other threads stay in the host's namespace.
metrics::HttpAnswer get_in(const std::string& netns, const std::string& address, const std::string& path);

// One scrape: "name{labels}" -> value, and each family's TYPE. Checks the text format on the
// way: every sample's family has a TYPE line before it, every line is a comment or "series value".
struct Scrape {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  double at(const std::string& series) const;  // the test fails if there is no such sample
  double get(const std::string& series, double fallback = 0) const;
  // The sum of the samples whose series starts with `prefix` ("name{label=\"x\"").
  double sum(const std::string& prefix) const;
};

Scrape scrape(const std::string& netns);
// The introspection API's JSON at `path`; the test fails unless it answers 200.
nlohmann::json introspect(const std::string& netns, const std::string& path);

}  // namespace vpcri::test

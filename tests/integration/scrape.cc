#include "tests/integration/scrape.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>

#include <cstring>
#include <future>
#include <sstream>
#include <stdexcept>

#include "common/fd.h"

namespace vpcri::test {

metrics::HttpAnswer get_in(const std::string& netns, const std::string& address, const std::string& path) {
  return std::async(std::launch::async, [&] {
           UniqueFd ns(::open(netns.c_str(), O_RDONLY | O_CLOEXEC));
           if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) throw std::runtime_error("setns " + netns);
           return metrics::http_get(address, path);
         })
      .get();
}

double Scrape::at(const std::string& series) const {
  auto it = samples.find(series);
  if (it == samples.end()) {
    FAIL("no sample " << series);
    return 0;
  }
  return it->second;
}

double Scrape::get(const std::string& series, double fallback) const {
  auto it = samples.find(series);
  return it == samples.end() ? fallback : it->second;
}

double Scrape::sum(const std::string& prefix) const {
  double total = 0;
  for (auto it = samples.lower_bound(prefix); it != samples.end() && it->first.starts_with(prefix); ++it) {
    total += it->second;
  }
  return total;
}

Scrape scrape(const std::string& netns) {
  auto answer = get_in(netns, kMetricsAddress, "/metrics");
  REQUIRE(answer.status == 200);
  REQUIRE(answer.head.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  Scrape out;
  std::istringstream in(answer.body);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# TYPE ")) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      out.types[name] = type;
      continue;
    }
    if (line.starts_with("# HELP ")) continue;
    size_t space = line.rfind(' ');
    REQUIRE_MESSAGE(space != std::string::npos, line);
    std::string series = line.substr(0, space);
    std::string name = series.substr(0, series.find('{'));
    bool typed = out.types.contains(name);
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!typed && name.ends_with(suffix)) typed = out.types.contains(name.substr(0, name.size() - std::strlen(suffix)));
    }
    CHECK_MESSAGE(typed, "sample without a TYPE line: " << line);
    out.samples[series] = std::stod(line.substr(space + 1));
  }
  return out;
}

nlohmann::json introspect(const std::string& netns, const std::string& path) {
  auto answer = get_in(netns, kIntrospectionAddress, path);
  REQUIRE_MESSAGE(answer.status == 200, answer.body);
  return nlohmann::json::parse(answer.body);
}

}  // namespace vpcri::test

#include "metrics/registry.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <unistd.h>

#include "metrics/process.h"

using namespace vpcri::metrics;

TEST_CASE("counters render with HELP, TYPE and their labels, sorted") {
  Registry r;
  auto& requests = r.counter("vpcri_cri_requests_total", "CRI requests.", {"rpc", "code"});
  requests.with({"Version", "OK"}).inc();
  requests.with({"Version", "OK"}).inc(2);
  requests.with({"RunPodSandbox", "RESOURCE_EXHAUSTED"}).inc();
  r.gauge("vpcri_a_gauge", "First by name.").with({}).set(1.5);
  CHECK(r.render() ==
        "# HELP vpcri_a_gauge First by name.\n"
        "# TYPE vpcri_a_gauge gauge\n"
        "vpcri_a_gauge 1.5\n"
        "# HELP vpcri_cri_requests_total CRI requests.\n"
        "# TYPE vpcri_cri_requests_total counter\n"
        "vpcri_cri_requests_total{rpc=\"RunPodSandbox\",code=\"RESOURCE_EXHAUSTED\"} 1\n"
        "vpcri_cri_requests_total{rpc=\"Version\",code=\"OK\"} 3\n");
}

TEST_CASE("histograms expose cumulative buckets with le inclusive, +Inf, sum and count") {
  Registry r;
  auto& h = r.histogram("vpcri_op_seconds", "Op latency.", {"op"}, {0.1, 1});
  auto& child = h.with({"x"});
  child.observe(0.1);   // le="0.1" (inclusive)
  child.observe(0.5);   // le="1"
  child.observe(30);    // only +Inf
  CHECK(r.render() ==
        "# HELP vpcri_op_seconds Op latency.\n"
        "# TYPE vpcri_op_seconds histogram\n"
        "vpcri_op_seconds_bucket{op=\"x\",le=\"0.1\"} 1\n"
        "vpcri_op_seconds_bucket{op=\"x\",le=\"1\"} 2\n"
        "vpcri_op_seconds_bucket{op=\"x\",le=\"+Inf\"} 3\n"
        "vpcri_op_seconds_sum{op=\"x\"} 30.6\n"
        "vpcri_op_seconds_count{op=\"x\"} 3\n");
  CHECK_THROWS_AS(r.histogram("vpcri_bad_seconds", "h", {}, {1, 0.5}), std::invalid_argument);
}

TEST_CASE("label values and HELP are escaped as the format requires") {
  Registry r;
  r.counter("vpcri_x_total", "Line one\nback\\slash \"quotes\" stay.", {"v"}).with({"a\"b\\c\nd"}).inc();
  CHECK(r.render() ==
        "# HELP vpcri_x_total Line one\\nback\\\\slash \"quotes\" stay.\n"
        "# TYPE vpcri_x_total counter\n"
        "vpcri_x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST_CASE("values: shortest exact form, integers without a point, infinities and NaN spelled out") {
  CHECK(format_value(3) == "3");
  CHECK(format_value(0.1) == "0.1");
  CHECK(format_value(1e21) == "1e+21");
  CHECK(format_value(-2.5) == "-2.5");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
}

TEST_CASE("registering a name twice gives the same family; a conflicting one is refused") {
  Registry r;
  auto& a = r.counter("vpcri_dup_total", "h", {"l"});
  auto& b = r.counter("vpcri_dup_total", "h", {"l"});
  CHECK(&a == &b);
  CHECK_THROWS_AS(r.gauge("vpcri_dup_total", "h", {"l"}), std::logic_error);
  CHECK_THROWS_AS(r.counter("vpcri_dup_total", "h", {"other"}), std::logic_error);
}

TEST_CASE("bad metric names, label names and label counts are refused") {
  Registry r;
  CHECK_THROWS_AS(r.counter("1bad", "h"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("vpcri bad", "h"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("vpcri_ok_total", "h", {"le"}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("vpcri_ok2_total", "h", {"__reserved"}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("vpcri_ok3_total", "h", {"a:b"}), std::invalid_argument);
  auto& f = r.counter("vpcri_ok4_total", "h", {"a", "b"});
  CHECK_THROWS_AS(f.with({"only-one"}), std::invalid_argument);
}

TEST_CASE("collectors report values at scrape time, merged by name, and stop when their handle goes") {
  Registry r;
  r.counter("vpcri_m_total", "middle").with({}).inc();
  int pods = 2;
  auto handle = r.add_collector([&](Collection& c) {
    c.gauge("vpcri_z_pods", "Pods by state.", {{"state", "ready"}}, pods);
    c.gauge("vpcri_z_pods", "Pods by state.", {{"state", "notready"}}, 0);
    c.gauge("vpcri_a_first", "Sorted before.", {}, 7);
  });
  CHECK(r.render() ==
        "# HELP vpcri_a_first Sorted before.\n# TYPE vpcri_a_first gauge\nvpcri_a_first 7\n"
        "# HELP vpcri_m_total middle\n# TYPE vpcri_m_total counter\nvpcri_m_total 1\n"
        "# HELP vpcri_z_pods Pods by state.\n# TYPE vpcri_z_pods gauge\n"
        "vpcri_z_pods{state=\"ready\"} 2\nvpcri_z_pods{state=\"notready\"} 0\n");
  pods = 5;
  CHECK(r.render().find("vpcri_z_pods{state=\"ready\"} 5\n") != std::string::npos);
  handle.reset();
  CHECK(r.render() == "# HELP vpcri_m_total middle\n# TYPE vpcri_m_total counter\nvpcri_m_total 1\n");
}

TEST_CASE("process metrics report this process: RSS, fds and threads") {
  Collection c;
  collect_process(c);
  const auto& f = c.families();
  REQUIRE(f.contains("vpcri_process_resident_memory_bytes"));
  REQUIRE(f.contains("vpcri_process_open_fds"));
  REQUIRE(f.contains("vpcri_process_threads"));
  CHECK(f.at("vpcri_process_resident_memory_bytes").samples.at(0).value > 1024 * 1024);
  double fds = f.at("vpcri_process_open_fds").samples.at(0).value;
  int extra = ::dup(0);
  REQUIRE(extra >= 0);
  Collection after;
  collect_process(after);
  ::close(extra);
  CHECK(after.families().at("vpcri_process_open_fds").samples.at(0).value == fds + 1);
  CHECK(f.at("vpcri_process_threads").samples.at(0).value >= 1);
}

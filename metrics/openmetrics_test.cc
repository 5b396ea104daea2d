#include "metrics/openmetrics.h"

#include <doctest/doctest.h>

#include "metrics/registry.h"

using namespace vpcri::metrics;

TEST_CASE("OpenMetrics text: counter families without _total, quotes escaped in HELP, # EOF at the end") {
  Registry r;
  r.counter("vpcri_cri_requests_total", "CRI \"requests\".", {"rpc"}).with({"Version"}).inc(3);
  r.counter("vpcri_odd_counter", "No suffix.").with({}).inc();
  r.gauge("vpcri_pods", "Pods.").with({}).set(2);
  r.histogram("vpcri_wait_seconds", "Waits.", {}, {0.5}).with({}).observe(0.25);
  CHECK(to_openmetrics(r.render()) ==
        "# HELP vpcri_cri_requests CRI \\\"requests\\\".\n"
        "# TYPE vpcri_cri_requests counter\n"
        "vpcri_cri_requests_total{rpc=\"Version\"} 3\n"
        "# HELP vpcri_odd_counter No suffix.\n"
        "# TYPE vpcri_odd_counter unknown\n"
        "vpcri_odd_counter 1\n"
        "# HELP vpcri_pods Pods.\n"
        "# TYPE vpcri_pods gauge\n"
        "vpcri_pods 2\n"
        "# HELP vpcri_wait_seconds Waits.\n"
        "# TYPE vpcri_wait_seconds histogram\n"
        "vpcri_wait_seconds_bucket{le=\"0.5\"} 1\n"
        "vpcri_wait_seconds_bucket{le=\"+Inf\"} 1\n"
        "vpcri_wait_seconds_sum 0.25\n"
        "vpcri_wait_seconds_count 1\n"
        "# EOF\n");
  CHECK(to_openmetrics("") == "# EOF\n");
}

TEST_CASE("the Accept header decides the format") {
  CHECK(accepts_openmetrics("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"));
  CHECK_FALSE(accepts_openmetrics("text/plain;version=0.0.4"));
  CHECK_FALSE(accepts_openmetrics(""));
}

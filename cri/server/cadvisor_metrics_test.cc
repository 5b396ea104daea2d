#include "cri/server/cadvisor_metrics.h"

#include <doctest/doctest.h>

#include <set>

#include "common/error.h"

using namespace vpcri::cri;

TEST_CASE("cAdvisor families: unique names, id and name first, counters end in _total") {
  std::set<std::string> names;
  for (const auto& f : cadvisor_families()) {
    CAPTURE(f.name);
    CHECK(names.insert(f.name).second);
    CHECK(f.name.starts_with("container_"));
    CHECK_FALSE(f.help.empty());
    REQUIRE(f.label_keys.size() >= 2);
    CHECK(f.label_keys[0] == "id");
    CHECK(f.label_keys[1] == "name");
    CHECK((f.type == v1::COUNTER) == f.name.ends_with("_total"));
  }
  for (const char* kubelet_reads : {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                                    "container_network_receive_bytes_total", "container_network_transmit_bytes_total"}) {
    CHECK(names.contains(kubelet_reads));
  }
}

TEST_CASE("MetricSink writes the labels in descriptor order and refuses a sample no descriptor describes") {
  google::protobuf::RepeatedPtrField<v1::Metric> out;
  MetricSink sink(&out, "c1", "web", 42);
  sink.add("container_memory_rss", 4096);
  sink.add("container_network_receive_bytes_total", 7, {"eth0"});
  REQUIRE(out.size() == 2);
  CHECK(out[0].name() == "container_memory_rss");
  CHECK(out[0].metric_type() == v1::GAUGE);
  CHECK(out[0].timestamp() == 42);
  CHECK(out[0].value().value() == 4096);
  CHECK(std::vector<std::string>(out[1].label_values().begin(), out[1].label_values().end()) ==
        std::vector<std::string>{"c1", "web", "eth0"});
  CHECK(out[1].metric_type() == v1::COUNTER);

  CHECK_THROWS_AS(sink.add("container_no_such_metric", 1), vpcri::Error);
  CHECK_THROWS_AS(sink.add("container_network_receive_bytes_total", 1), vpcri::Error);  // no interface
  CHECK_THROWS_AS(sink.add("container_memory_rss", 1, {"extra"}), vpcri::Error);
  CHECK(out.size() == 2);
}

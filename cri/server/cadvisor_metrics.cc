#include "cri/server/cadvisor_metrics.h"

#include <map>

#include "common/error.h"

namespace vpcri::cri {
namespace {

CadvisorFamily family(const char* name, const char* help, v1::MetricType type, std::vector<std::string> own = {}) {
  std::vector<std::string> keys{"id", "name"};
  keys.insert(keys.end(), own.begin(), own.end());
  return {name, help, type, std::move(keys)};
}

std::vector<CadvisorFamily> make_families() {
  const auto C = v1::COUNTER;
  const auto G = v1::GAUGE;
  std::vector<CadvisorFamily> f{
      family("container_cpu_usage_seconds_total",
             "Cumulative CPU time consumed in seconds (whole seconds: CRI metric values are integers).", C),
      family("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of "
                                             "when it was accessed.", G),
      family("container_memory_working_set_bytes", "Current working set in bytes.", G),
      family("container_memory_rss", "Size of RSS in bytes.", G),
      family("container_memory_failures_total", "Cumulative count of memory allocation failures.", C,
             {"failure_type", "scope"}),
      family("container_threads", "Number of threads (tasks) running inside the container.", G),
      family("container_processes", "Number of processes running inside the container.", G),
      family("container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", G,
             {"device"}),
      family("container_start_time_seconds", "Start time of the container since unix epoch in seconds.", G),
      family("container_last_seen", "Last time a container was seen by the exporter.", G),
  };
  const std::pair<const char*, const char*> network[] = {
      {"container_network_receive_bytes_total", "Cumulative count of bytes received."},
      {"container_network_receive_packets_total", "Cumulative count of packets received."},
      {"container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving."},
      {"container_network_receive_errors_total", "Cumulative count of errors encountered while receiving."},
      {"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted."},
      {"container_network_transmit_packets_total", "Cumulative count of packets transmitted."},
      {"container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting."},
      {"container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting."},
  };
  for (const auto& [name, help] : network) f.push_back(family(name, help, C, {"interface"}));
  return f;
}

const std::map<std::string, const CadvisorFamily*>& by_name() {
  static const auto index = [] {
    std::map<std::string, const CadvisorFamily*> m;
    for (const auto& f : cadvisor_families()) m[f.name] = &f;
    return m;
  }();
  return index;
}

}  // namespace

const std::vector<CadvisorFamily>& cadvisor_families() {
  static const std::vector<CadvisorFamily> families = make_families();
  return families;
}

void MetricSink::add(const std::string& family, uint64_t value, const std::vector<std::string>& extra) {
  auto it = by_name().find(family);
  if (it == by_name().end()) throw Error(Errc::internal, "metric " + family + " has no descriptor");
  const CadvisorFamily& f = *it->second;
  if (f.label_keys.size() != 2 + extra.size()) {
    throw Error(Errc::internal, "metric " + family + ": " + std::to_string(2 + extra.size()) + " label values for " +
                                    std::to_string(f.label_keys.size()) + " keys");
  }
  v1::Metric* m = out_->Add();
  m->set_name(family);
  m->set_timestamp(timestamp_);
  m->set_metric_type(f.type);
  m->add_label_values(id_);
  m->add_label_values(name_);
  for (const auto& v : extra) m->add_label_values(v);
  m->mutable_value()->set_value(value);
}

}  // namespace vpcri::cri

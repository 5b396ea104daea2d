// The cAdvisor-named metrics vpcri reports through ListMetricDescriptors and
// ListPodSandboxMetrics, which kubelet serves on /metrics/cadvisor when it takes pod and
// container stats from the runtime (PodAndContainerStatsFromCRI). Names, label keys and types
// follow cAdvisor (and containerd's CRI plugin): base labels "id" and "name" first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cri/api/cri_api.h"

namespace vpcri::cri {

namespace v1 = ::runtime::v1;

struct CadvisorFamily {
  std::string name;
  std::string help;
  v1::MetricType type;
  std::vector<std::string> label_keys;  // "id", "name", then the family's own
};

// Every family a metric sample may name, in a fixed order.
const std::vector<CadvisorFamily>& cadvisor_families();

// Appends samples of one object (a pod or a container) to `out`: `id` and `name` fill the base
// labels, `extra` the family's own label values. Throws Errc::internal for a family that is not
// in cadvisor_families() or a label count that does not match it (a bug, never a silent drop).
class MetricSink {
 public:
  MetricSink(google::protobuf::RepeatedPtrField<v1::Metric>* out, std::string id, std::string name, int64_t timestamp)
      : out_(out), id_(std::move(id)), name_(std::move(name)), timestamp_(timestamp) {}
  void add(const std::string& family, uint64_t value, const std::vector<std::string>& extra = {});

 private:
  google::protobuf::RepeatedPtrField<v1::Metric>* out_;
  std::string id_, name_;
  int64_t timestamp_;
};

}  // namespace vpcri::cri

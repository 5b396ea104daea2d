#include "cri/server/cadvisor_metrics.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ListMetricDescriptors(grpc::ServerContext*, const v1::ListMetricDescriptorsRequest*,
                                                   v1::ListMetricDescriptorsResponse* resp) {
  return handle_rpc("ListMetricDescriptors", [&] {
    for (const auto& f : cadvisor_families()) {
      auto* d = resp->add_descriptors();
      d->set_name(f.name);
      d->set_help(f.help);
      for (const auto& key : f.label_keys) d->add_label_keys(key);
    }
  });
}

}  // namespace vpcri::cri

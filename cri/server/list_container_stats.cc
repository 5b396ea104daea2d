#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ListContainerStats(grpc::ServerContext*, const v1::ListContainerStatsRequest* req,
                                                v1::ListContainerStatsResponse* resp) {
  return handle_rpc("ListContainerStats", [&] {
    const auto& filter = req->filter();
    std::vector<std::shared_ptr<Container>> containers;
    if (!filter.id().empty()) {
      if (auto c = state_.store().containers.find(filter.id())) containers.push_back(c);
    } else {
      containers = state_.store().containers.all();
    }
    std::string pod_id = filter.pod_sandbox_id();
    if (!pod_id.empty()) {
      auto pod = state_.store().sandboxes.find(pod_id);
      if (!pod) return;
      pod_id = pod->id();
    }
    for (const auto& c : containers) {
      const ContainerRecord r = c->get();
      // As containerd: only running containers have stats.
      if (r.state != v1::CONTAINER_RUNNING) continue;
      if (!pod_id.empty() && r.sandbox_id != pod_id) continue;
      if (!labels_match(filter.label_selector(), r.config.labels())) continue;
      container_stats(state_, r, resp->add_stats());
    }
  });
}

}  // namespace vpcri::cri

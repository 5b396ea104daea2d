#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ListContainers(grpc::ServerContext*, const v1::ListContainersRequest* req,
                                            v1::ListContainersResponse* resp) {
  return handle_rpc("ListContainers", [&] {
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
      if (filter.has_state() && filter.state().state() != r.state) continue;
      if (!pod_id.empty() && r.sandbox_id != pod_id) continue;
      if (!labels_match(filter.label_selector(), r.config.labels())) continue;
      to_cri(r, resp->add_containers());
    }
  });
}

}  // namespace vpcri::cri

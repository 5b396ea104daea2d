#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ListPodSandboxStats(grpc::ServerContext*, const v1::ListPodSandboxStatsRequest* req,
                                                 v1::ListPodSandboxStatsResponse* resp) {
  return handle_rpc("ListPodSandboxStats", [&] {
    const auto& filter = req->filter();
    std::vector<std::shared_ptr<Sandbox>> pods;
    if (!filter.id().empty()) {
      if (auto pod = state_.store().sandboxes.find(filter.id())) pods.push_back(pod);
    } else {
      pods = state_.store().sandboxes.all();
    }
    for (const auto& pod : pods) {
      const SandboxRecord r = pod->get();
      if (r.state != v1::SANDBOX_READY) continue;
      if (!labels_match(filter.label_selector(), r.config.labels())) continue;
      pod_stats(state_, r, resp->add_stats());
    }
  });
}

}  // namespace vpcri::cri

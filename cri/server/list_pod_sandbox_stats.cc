#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ListPodSandboxStats(grpc::ServerContext*, const v1::ListPodSandboxStatsRequest* req,
                                                 v1::ListPodSandboxStatsResponse* resp) {
  return handle_rpc("ListPodSandboxStats", [&] {
    const auto& filter = req->filter();
    for (const auto& r : select_sandboxes(state_.store(), filter.id(), filter.label_selector())) {
      if (r.state != v1::SANDBOX_READY) continue;  // as containerd: only ready pods have stats
      pod_stats(state_, r, resp->add_stats());
    }
  });
}

}  // namespace vpcri::cri

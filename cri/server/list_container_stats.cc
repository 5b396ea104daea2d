#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ListContainerStats(grpc::ServerContext*, const v1::ListContainerStatsRequest* req,
                                                v1::ListContainerStatsResponse* resp) {
  return handle_rpc("ListContainerStats", [&] {
    const auto& filter = req->filter();
    for (const auto& r :
         select_containers(state_.store(), filter.id(), filter.pod_sandbox_id(), filter.label_selector())) {
      if (r.state != v1::CONTAINER_RUNNING) continue;  // as containerd: only running containers have stats
      container_stats(state_, r, resp->add_stats());
    }
  });
}

}  // namespace vpcri::cri

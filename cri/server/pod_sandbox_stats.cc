#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::PodSandboxStats(grpc::ServerContext*, const v1::PodSandboxStatsRequest* req,
                                             v1::PodSandboxStatsResponse* resp) {
  return handle_rpc("PodSandboxStats", [&] {
    pod_stats(state_, state_.store().sandboxes.get(req->pod_sandbox_id())->get(), resp->mutable_stats());
  });
}

}  // namespace vpcri::cri

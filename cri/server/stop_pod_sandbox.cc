#include "common/failpoint.h"
#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::StopPodSandbox(grpc::ServerContext*, const v1::StopPodSandboxRequest* req,
                                            v1::StopPodSandboxResponse*) {
  return handle_rpc("StopPodSandbox", [&] {
    // Stopping a pod that is already gone is not an error.
    auto pod = state_.store().sandboxes.find(req->pod_sandbox_id());
    if (!pod) return;
    std::lock_guard op(pod->op());
    failpoint("stop_pod.begin");
    stop_sandbox(state_, pod);
  });
}

}  // namespace vpcri::cri

#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::RemoveContainer(grpc::ServerContext*, const v1::RemoveContainerRequest* req,
                                             v1::RemoveContainerResponse*) {
  return handle_rpc("RemoveContainer", [&] {
    // Removing an unknown container is not an error (it may be removed already).
    auto container = state_.store().containers.find(req->container_id());
    if (!container) return;
    std::lock_guard op(container->op());
    if (!state_.store().containers.find(container->id())) return;  // removed while we waited
    remove_container(state_, container);
  });
}

}  // namespace vpcri::cri

#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::StopContainer(grpc::ServerContext*, const v1::StopContainerRequest* req,
                                           v1::StopContainerResponse*) {
  return handle_rpc("StopContainer", [&] {
    // As containerd: stopping a container that is already gone is not an error.
    auto container = state_.store().containers.find(req->container_id());
    if (!container) return;
    std::lock_guard op(container->op());
    stop_container(state_, *container, std::chrono::seconds(std::max<int64_t>(req->timeout(), 0)));
  });
}

}  // namespace vpcri::cri

#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ReopenContainerLog(grpc::ServerContext*, const v1::ReopenContainerLogRequest* req,
                                                v1::ReopenContainerLogResponse*) {
  return handle_rpc("ReopenContainerLog", [&] {
    auto container = state_.store().containers.get(req->container_id());
    std::lock_guard op(container->op());  // one reopen of a container at a time
    auto monitor = container->monitor();
    if (container->get().state != v1::CONTAINER_RUNNING || !monitor) {
      throw Error(Errc::failed_precondition, "ReopenContainerLog: container " + container->id() + " is not running");
    }
    runtime::reopen_log(*monitor);
  });
}

}  // namespace vpcri::cri

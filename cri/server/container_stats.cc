#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ContainerStats(grpc::ServerContext*, const v1::ContainerStatsRequest* req,
                                            v1::ContainerStatsResponse* resp) {
  return handle_rpc("ContainerStats", [&] {
    container_stats(state_, state_.store().containers.get(req->container_id())->get(), resp->mutable_stats());
  });
}

}  // namespace vpcri::cri

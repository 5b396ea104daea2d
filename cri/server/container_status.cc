#include <nlohmann/json.hpp>

#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ContainerStatus(grpc::ServerContext*, const v1::ContainerStatusRequest* req,
                                             v1::ContainerStatusResponse* resp) {
  return handle_rpc("ContainerStatus", [&] {
    const ContainerRecord r = state_.store().containers.get(req->container_id())->get();
    to_cri(r, resp->mutable_status());
    if (req->verbose()) {
      nlohmann::json info{{"pid", r.process.pid},
                          {"sandboxID", r.sandbox_id},
                          {"cgroup", r.cgroup_path},
                          {"rootfs", container_rootfs(state_.store(), r.id)},
                          {"stateDir", container_monitor_dir(state_.store(), r.id)},
                          {"initSpec", nlohmann::json::parse(r.init_spec, nullptr, false)}};
      (*resp->mutable_info())["info"] = info.dump();
    }
  });
}

}  // namespace vpcri::cri

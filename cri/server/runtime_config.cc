#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::RuntimeConfig(grpc::ServerContext*, const v1::RuntimeConfigRequest*,
                                           v1::RuntimeConfigResponse* resp) {
  return handle_rpc("RuntimeConfig", [&] {
    resp->mutable_linux()->set_cgroup_driver(state_.config().cgroup_driver == CgroupDriver::systemd
                                                 ? v1::CgroupDriver::SYSTEMD
                                                 : v1::CgroupDriver::CGROUPFS);
  });
}

}  // namespace vpcri::cri

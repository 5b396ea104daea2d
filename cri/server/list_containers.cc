#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ListContainers(grpc::ServerContext*, const v1::ListContainersRequest* req,
                                            v1::ListContainersResponse* resp) {
  return handle_rpc("ListContainers", [&] {
    const auto& filter = req->filter();
    for_each_container(state_.store(), filter.id(), filter.pod_sandbox_id(), filter.label_selector(),
                       [&](const ContainerRecord& r) {
                         if (filter.has_state() && filter.state().state() != r.state) return;
                         to_cri(r, resp->add_containers());
                       });
  });
}

}  // namespace vpcri::cri

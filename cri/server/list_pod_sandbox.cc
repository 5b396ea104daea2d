#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ListPodSandbox(grpc::ServerContext*, const v1::ListPodSandboxRequest* req,
                                            v1::ListPodSandboxResponse* resp) {
  return handle_rpc("ListPodSandbox", [&] {
    const auto& filter = req->filter();
    for_each_sandbox(state_.store(), filter.id(), filter.label_selector(), [&](const SandboxRecord& r) {
      if (filter.has_state() && filter.state().state() != r.state) return;
      to_cri(r, resp->add_items());
    });
  });
}

}  // namespace vpcri::cri

#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ListPodSandbox(grpc::ServerContext*, const v1::ListPodSandboxRequest* req,
                                            v1::ListPodSandboxResponse* resp) {
  return handle_rpc("ListPodSandbox", [&] {
    const auto& filter = req->filter();
    std::vector<std::shared_ptr<Sandbox>> pods;
    if (!filter.id().empty()) {
      if (auto pod = state_.store().sandboxes.find(filter.id())) pods.push_back(pod);
    } else {
      pods = state_.store().sandboxes.all();
    }
    for (const auto& pod : pods) {
      const SandboxRecord r = pod->get();
      if (filter.has_state() && filter.state().state() != r.state) continue;
      if (!labels_match(filter.label_selector(), r.config.labels())) continue;
      to_cri(r, resp->add_items());
    }
  });
}

}  // namespace vpcri::cri

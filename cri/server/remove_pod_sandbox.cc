#include "common/failpoint.h"
#include "common/log.h"
#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/lifecycle_events.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::RemovePodSandbox(grpc::ServerContext*, const v1::RemovePodSandboxRequest* req,
                                              v1::RemovePodSandboxResponse*) {
  return handle_rpc("RemovePodSandbox", [&] {
    // Removing an unknown pod is not an error (it may be removed already).
    auto pod = state_.store().sandboxes.find(req->pod_sandbox_id());
    if (!pod) return;
    std::lock_guard op(pod->op());
    if (!state_.store().sandboxes.find(pod->id())) return;  // removed while we waited
    stop_sandbox(state_, pod);
    for (const auto& c : state_.store().containers_of(pod->id())) {
      std::lock_guard container_op(c->op());
      if (state_.store().containers.find(c->id())) remove_container(state_, c);
    }
    const SandboxRecord r = pod->get();
    teardown_sandbox(state_, r);
    failpoint("remove_pod.torn_down");
    state_.store().erase_files(r);
    state_.store().sandboxes.erase(r.id);
    state_.store().sandboxes.release_name(sandbox_name(r.config.metadata()));
    publish_event(state_, r.id, r.id, v1::CONTAINER_DELETED_EVENT);
    log::info("pod sandbox removed", {{"id", r.id}});
  });
}

}  // namespace vpcri::cri

#include "common/log.h"
#include "cri/server/container_spec.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"
#include "runtime/cgroup/cgroup.h"

namespace vpcri::cri {

grpc::Status RuntimeService::UpdateContainerResources(grpc::ServerContext*,
                                                      const v1::UpdateContainerResourcesRequest* req,
                                                      v1::UpdateContainerResourcesResponse*) {
  return handle_rpc("UpdateContainerResources", [&] {
    if (!req->has_linux()) throw Error(Errc::invalid_argument, "UpdateContainerResources: linux resources are required");
    auto container = state_.store().containers.get(req->container_id());
    std::lock_guard op(container->op());
    const ContainerRecord r = container->get();
    if (r.state == v1::CONTAINER_EXITED || r.state == v1::CONTAINER_UNKNOWN) {
      throw Error(Errc::failed_precondition, "UpdateContainerResources: container " + r.id + " is not running");
    }
    // A created container gets the limits when it starts; a running one now.
    if (r.state == v1::CONTAINER_RUNNING) {
      state_.cgroups().update(runtime::cgroup::Cgroup(state_.cgroup_root(), r.cgroup_path),
                              to_linux_resources(req->linux()));
    }
    container->update([&](ContainerRecord& rec) {
      // Unset (zero) fields keep their value, as in the cgroup.
      v1::LinuxContainerResources merged = rec.resources;
      merged.MergeFrom(req->linux());
      if (!req->linux().unified().empty()) *merged.mutable_unified() = req->linux().unified();
      if (req->linux().hugepage_limits_size() > 0) *merged.mutable_hugepage_limits() = req->linux().hugepage_limits();
      rec.resources = merged;
      state_.store().save(rec);
    });
    log::info("container resources updated", {{"id", r.id}});
  });
}

}  // namespace vpcri::cri

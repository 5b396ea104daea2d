#include <nlohmann/json.hpp>

#include "cri/server/cri_convert.h"
#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::PodSandboxStatus(grpc::ServerContext*, const v1::PodSandboxStatusRequest* req,
                                              v1::PodSandboxStatusResponse* resp) {
  return handle_rpc("PodSandboxStatus", [&] {
    const SandboxRecord r = state_.store().sandboxes.get(req->pod_sandbox_id())->get();
    to_cri(r, resp->mutable_status());
    resp->set_timestamp(now_ns());
    if (req->verbose()) {
      const PodPaths paths = pod_paths(state_.store(), r.id);
      const bool host_network = r.config.linux().security_context().namespace_options().network() == v1::NODE;
      nlohmann::json info{{"pid", r.pause.pid},
                          {"cgroup_parent", r.cgroup_parent},
                          {"sandbox_cgroup", sandbox_cgroup(state_, r).path()},
                          {"netns", host_network ? "" : paths.netns},
                          {"hostname", r.hostname},
                          {"state_dir", paths.dir},
                          {"image", state_.config().images.sandbox_image}};
      (*resp->mutable_info())["info"] = info.dump();
    }
  });
}

}  // namespace vpcri::cri

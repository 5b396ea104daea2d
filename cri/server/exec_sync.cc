// ExecSync: a process in the namespaces, cgroup and security settings of a running container,
// as vpcrid's own short-lived child; its output comes back in the response.
#include "common/log.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"
#include "runtime/cgroup/cgroup.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ExecSync(grpc::ServerContext*, const v1::ExecSyncRequest* req, v1::ExecSyncResponse* resp) {
  return handle_rpc("ExecSync", [&] {
    if (req->cmd().empty()) throw Error(Errc::invalid_argument, "ExecSync: cmd is empty");
    if (req->timeout() < 0) throw Error(Errc::invalid_argument, "ExecSync: timeout is negative");
    const ContainerRecord r = state_.store().containers.get(req->container_id())->get();
    if (r.state != v1::CONTAINER_RUNNING || !runtime::is_running(r.process)) {
      throw Error(Errc::failed_precondition, "ExecSync: container " + r.id + " is not running");
    }
    namespace container = runtime::container;
    container::InitSpec spec = container::init_spec_from_json(r.init_spec);
    const std::string ns = "/proc/" + std::to_string(r.process.pid) + "/ns/";
    for (auto [field, kind] : {std::pair{&spec.mnt, "mnt"}, {&spec.net, "net"}, {&spec.ipc, "ipc"},
                               {&spec.uts, "uts"}, {&spec.pid, "pid"}, {&spec.cgroup, "cgroup"}}) {
      *field = {container::NamespaceSpec::Mode::join, ns + kind};
    }
    spec.mounts.clear();
    spec.sysctls.clear();
    spec.process.args.assign(req->cmd().begin(), req->cmd().end());
    spec.cgroup_dirs = runtime::cgroup::Cgroup(state_.cgroup_root(), r.cgroup_path).directories();
    if (!runtime::is_running(r.process)) {
      throw Error(Errc::failed_precondition, "ExecSync: container " + r.id + " is not running");
    }
    auto result = container::exec_sync(state_.binaries(), spec, std::chrono::seconds(req->timeout()));
    if (result.timed_out) {
      throw Error(Errc::deadline_exceeded, "ExecSync: command timed out after " + std::to_string(req->timeout()) + "s");
    }
    resp->set_stdout(std::move(result.stdout_data));
    resp->set_stderr(std::move(result.stderr_data));
    resp->set_exit_code(result.exit_code);
  });
}

}  // namespace vpcri::cri

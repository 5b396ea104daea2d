// ExecSync: a process in the namespaces, cgroup and security settings of a running container,
// as vpcrid's own short-lived child; its output comes back in the response.
#include "common/log.h"
#include "cri/server/exec_spec.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::ExecSync(grpc::ServerContext*, const v1::ExecSyncRequest* req, v1::ExecSyncResponse* resp) {
  return handle_rpc("ExecSync", [&] {
    if (req->cmd().empty()) throw Error(Errc::invalid_argument, "ExecSync: cmd is empty");
    if (req->timeout() < 0) throw Error(Errc::invalid_argument, "ExecSync: timeout is negative");
    namespace container = runtime::container;
    container::InitSpec spec =
        exec_spec(state_, req->container_id(), {req->cmd().begin(), req->cmd().end()}, "ExecSync");
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

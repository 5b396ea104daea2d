// ExecSync: a process in the namespaces, cgroup and security settings of a running container,
// as vpcrid's own short-lived child; its output comes back in the response.
//
// Containment (docs/security.md): the namespaces are joined through a pidfd of the
// container's process, so a recycled pid is never entered; the exec runs in a cgroup of its own
// below the container's, so a timeout or a caller that goes away kills everything it started,
// also what left its process group (setsid, daemonized); at most
// runtime.max_concurrent_exec_sync run at once; the answer always fits one gRPC message.
#include <csignal>

#include "common/log.h"
#include "cri/server/exec_output.h"
#include "cri/server/exec_spec.h"
#include "cri/server/grpc_status.h"
#include "cri/server/request_validation.h"
#include "cri/server/runtime_service.h"
#include "cri/server/store.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/monitor/process_ref.h"

namespace vpcri::cri {
namespace {

namespace container = runtime::container;
namespace cgroup = runtime::cgroup;

// Holds one of the runtime.max_concurrent_exec_sync slots while alive: over the limit the call
// is refused at once instead of holding one more gRPC thread.
class ExecSlot {
 public:
  ExecSlot(std::atomic<int>& running, int limit) : running_(running) {
    if (running_.fetch_add(1) >= limit) {
      running_.fetch_sub(1);
      throw Error(Errc::resource_exhausted, "ExecSync: " + std::to_string(limit) +
                                                " ExecSync calls already run on this node "
                                                "(runtime.max_concurrent_exec_sync); try again later");
    }
  }
  ~ExecSlot() { running_.fetch_sub(1); }
  ExecSlot(const ExecSlot&) = delete;
  ExecSlot& operator=(const ExecSlot&) = delete;

 private:
  std::atomic<int>& running_;
};

// One exec's cgroup, a child of the container's (so the container's limits and accounting
// still apply). A cgroup, unlike a process group or session, cannot be left by the processes
// in it, so killing it kills everything the exec started. Gone again when the exec is over.
class ExecCgroup {
 public:
  ExecCgroup(const cgroup::CgroupRoot& root, const std::string& container_path)
      : container_(root, container_path), own_(root, container_path + "/exec-" + new_id().substr(0, 16)) {
    own_.create();
  }
  ~ExecCgroup() {
    if (done_) return;
    try {
      kill_and_remove();
    } catch (const std::exception& e) {
      log::error("ExecSync: cannot remove the exec's cgroup", {{"cgroup", own_.path()}, {"error", e.what()}});
    }
  }
  ExecCgroup(const ExecCgroup&) = delete;
  ExecCgroup& operator=(const ExecCgroup&) = delete;

  std::vector<std::string> directories() const { return own_.directories(); }

  // Freezes the cgroup (v1) or uses cgroup.kill (v2), so nothing forks away meanwhile.
  void kill_everything() const { own_.kill_all(SIGKILL); }

  // Timeout or cancellation: nothing the exec started survives the call.
  void kill_and_remove() {
    if (!own_.pids().empty()) kill_everything();
    own_.remove();  // waits until the killed processes are gone
    done_ = true;
  }

  // The command ended by itself: what it left running on purpose (a daemon started by a
  // postStart hook) stays in the container, as with containerd and CRI-O, in the container's
  // cgroup; a process forking faster than it can be moved is killed.
  void hand_leftovers_to_container() {
    for (int round = 0; round < 100; ++round) {
      std::vector<pid_t> pids = own_.pids();
      if (pids.empty()) break;
      for (pid_t pid : pids) {
        try {
          container_.add_process(pid);
        } catch (const Error& e) {
          if (e.code() != Errc::not_found) throw;  // not_found: it ended meanwhile
        }
      }
    }
    kill_and_remove();
  }

 private:
  cgroup::Cgroup container_;
  cgroup::Cgroup own_;
  bool done_ = false;
};

void not_running(const std::string& id) {
  throw Error(Errc::failed_precondition, "ExecSync: container " + id + " is not running");
}

}  // namespace

grpc::Status RuntimeService::ExecSync(grpc::ServerContext* context, const v1::ExecSyncRequest* req,
                                      v1::ExecSyncResponse* resp) {
  bool cancelled = false;
  grpc::Status status = handle_rpc("ExecSync", [&] {
    try {
      validate_exec_cmd(req->cmd());
    } catch (const Error& e) {
      throw Error(e.code(), std::string("ExecSync: ") + e.what());
    }
    if (req->timeout() < 0) throw Error(Errc::invalid_argument, "ExecSync: timeout is negative; use 0 for none");
    ExecSlot slot(exec_sync_running_, state_.config().runtime.max_concurrent_exec_sync);
    ExecTarget target = exec_target(state_, req->container_id(), {req->cmd().begin(), req->cmd().end()}, "ExecSync");
    const ContainerRecord& r = target.record;
    container::InitSpec& spec = target.spec;
    ExecCgroup exec_cgroup(state_.cgroup_root(), r.cgroup_path);
    spec.cgroup_dirs = exec_cgroup.directories();

    container::ExecOptions options;
    options.timeout = std::chrono::seconds(req->timeout());
    options.ns_pidfd = target.pidfd.get();
    options.cancelled = [context] { return context->IsCancelled(); };
    options.kill_everything = [&exec_cgroup] { exec_cgroup.kill_everything(); };
    container::ExecResult result;
    try {
      result = container::exec_sync(state_.binaries(), spec, options);
    } catch (const Error& e) {
      // The container ended while the exec was joining it (setns on a dead process's pidfd).
      if (!runtime::is_running(r.process)) not_running(r.id);
      throw;
    }
    if (result.timed_out || result.cancelled) {
      exec_cgroup.kill_and_remove();
      if (result.cancelled) {
        log::info("ExecSync: the caller went away; the command was killed", {{"id", r.id}});
        cancelled = true;
        return;
      }
      throw Error(Errc::deadline_exceeded, "ExecSync: command timed out after " + std::to_string(req->timeout()) +
                                               "s; it and every process it started were killed");
    }
    exec_cgroup.hand_leftovers_to_container();

    const size_t stdout_size = result.stdout_data.size(), stderr_size = result.stderr_data.size();
    const size_t cut =
        fit_exec_output(result.stdout_data, result.stderr_data, exec_output_budget(kMaxGrpcMessageBytes));
    if (cut > 0 || result.truncated) {
      log::warn("ExecSync: output truncated to fit the response",
                {{"id", r.id}, {"stdout_bytes", std::to_string(stdout_size)},
                 {"stderr_bytes", std::to_string(stderr_size)}, {"cut_bytes", std::to_string(cut)},
                 {"over_stream_cap", result.truncated ? "true" : "false"}});
    }
    resp->set_stdout(std::move(result.stdout_data));
    resp->set_stderr(std::move(result.stderr_data));
    resp->set_exit_code(result.exit_code);
  });
  if (cancelled) return grpc::Status(grpc::StatusCode::CANCELLED, "ExecSync: cancelled by the caller");
  return status;
}

}  // namespace vpcri::cri

// StartContainer: the container's cgroup with its limits and device policy, then vpcri-monitor + vpcri-init.
#include "common/failpoint.h"
#include "common/fs.h"
#include "common/log.h"
#include "cri/server/container_spec.h"
#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/lifecycle_events.h"
#include "cri/server/operation_spans.h"
#include "cri/server/runtime_service.h"
#include "runtime/container/devices.h"

namespace vpcri::cri {

grpc::Status RuntimeService::StartContainer(grpc::ServerContext*, const v1::StartContainerRequest* req,
                                            v1::StartContainerResponse*) {
  return handle_rpc("StartContainer", [&] {
    OperationSpans spans("StartContainer");
    auto container = state_.store().containers.get(req->container_id());
    std::lock_guard op(container->op());
    ContainerRecord r = container->get();
    if (r.state != v1::CONTAINER_CREATED) {
      throw Error(Errc::failed_precondition, "StartContainer: container " + r.id + " is " +
                                                 v1::ContainerState_Name(r.state) + ", not CREATED");
    }
    auto pod = state_.store().sandboxes.get(r.sandbox_id)->get();
    if (pod.state != v1::SANDBOX_READY) {
      throw Error(Errc::failed_precondition, "StartContainer: pod sandbox " + pod.id + " is not ready");
    }
    auto fail = [&](const std::string& message) {
      runtime::ExitStatus status;
      status.exit_code = 128;
      status.reason = "StartError";
      status.message = message;
      container->update([&](ContainerRecord& rec) {
        rec.state = v1::CONTAINER_EXITED;
        rec.started_at = rec.finished_at = now_ns();
        rec.exit_code = status.exit_code;
        rec.reason = status.reason;
        rec.message = status.message;
        state_.store().save(rec);
      });
      publish_event(state_, r.id, r.sandbox_id, v1::CONTAINER_STOPPED_EVENT);
    };
    spans.mark("validate");
    try {
      runtime::cgroup::Cgroup cgroup(state_.cgroup_root(), r.cgroup_path);
      auto cgroup_hold = state_.cgroups().create(cgroup, to_linux_resources(r.resources));
      failpoint("start_container.cgroup");
      spans.mark("cgroup");
      auto spec = runtime::container::init_spec_from_json(r.init_spec);
      cgroup.apply_devices(runtime::container::device_policy(spec));
      spec.cgroup_dirs = cgroup.directories();
      const std::string monitor_dir = container_monitor_dir(state_.store(), r.id);
      spans.mark("spec");
      fs::mkdir_p(monitor_dir, 0700);
      auto monitor = std::make_shared<runtime::MonitorHandle>(runtime::container::launch(
          state_.binaries(), monitor_dir, r.log_path, spec, cgroup.controller_dir("memory"),
          pod.config.log_directory(), {r.config.stdin(), r.config.tty(), r.config.stdin_once()}));
      cgroup_hold.release();  // the container's process is in the cgroup now
      failpoint("start_container.launched");
      spans.mark("launch");
      r = container->update([&](ContainerRecord& rec) {
        rec.state = v1::CONTAINER_RUNNING;
        rec.started_at = monitor->started_at_ns();
        rec.process = monitor->container();
        set_init_spec(rec, spec);
        state_.store().save(rec);
      });
      failpoint("start_container.saved");
      spans.mark("running_record");
      // Before the reaper watches: a container that exits at once is STOPPED after STARTED.
      publish_event(state_, r.id, r.sandbox_id, v1::CONTAINER_STARTED_EVENT);
      watch_container(state_, container, monitor);
    } catch (const std::exception& e) {
      fail(e.what());
      throw;
    }
    log::info("container started", {{"id", r.id}, {"pid", std::to_string(r.process.pid)}});
    spans.mark("publish");
    spans.done();
  });
}

}  // namespace vpcri::cri

// CreateContainer: the image's rootfs mounted, the InitSpec decided and stored; nothing runs yet.
#include <optional>

#include "common/failpoint.h"
#include "common/fs.h"
#include "common/log.h"
#include "cri/server/container_spec.h"
#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/lifecycle_events.h"
#include "cri/server/operation_spans.h"
#include "cri/server/request_validation.h"
#include "cri/server/runtime_service.h"
#include "net/datapath/undo_stack.h"
#include "runtime/container/pod_namespaces.h"
#include "runtime/snapshot/overlay.h"

namespace vpcri::cri {
namespace {

bool has_dotdot(const std::string& path) {
  for (size_t start = 0;;) {
    size_t end = path.find('/', start);
    if (path.substr(start, end == std::string::npos ? end : end - start) == "..") return true;
    if (end == std::string::npos) return false;
    start = end + 1;
  }
}

// The log file must stay in the pod's log directory: kubelet sends "<container>/<restarts>.log".
void check_log_path(const std::string& log_path) {
  if (log_path.front() == '/' || has_dotdot(log_path)) {
    throw Error(Errc::invalid_argument, "CreateContainer: log_path \"" + log_path +
                                            "\" must be relative to the pod's log_directory, without \"..\"");
  }
}

}  // namespace

grpc::Status RuntimeService::CreateContainer(grpc::ServerContext*, const v1::CreateContainerRequest* req,
                                             v1::CreateContainerResponse* resp) {
  return handle_rpc("CreateContainer", [&] {
    OperationSpans spans("CreateContainer");
    const v1::ContainerConfig& config = req->config();
    if (config.metadata().name().empty()) throw Error(Errc::invalid_argument, "CreateContainer: metadata name is required");
    if (config.image().image().empty()) throw Error(Errc::invalid_argument, "CreateContainer: image is required");
    validate_container_config(config);
    auto pod_object = state_.store().sandboxes.get(req->pod_sandbox_id());
    std::lock_guard pod_op(pod_object->op());  // not while the pod is being stopped or removed
    const SandboxRecord pod = pod_object->get();
    if (pod.state != v1::SANDBOX_READY) {
      throw Error(Errc::failed_precondition, "CreateContainer: pod sandbox " + pod.id + " is not ready");
    }
    auto image = state_.images().find(config.image().image());
    if (!image) {
      throw Error(Errc::not_found, "CreateContainer: image " + config.image().image() + " is not present; pull it first");
    }
    const auto& ns = config.linux().security_context().namespace_options();
    std::optional<ContainerRecord> target;
    if (ns.pid() == v1::TARGET) {
      // As containerd: the target must be a running container of the same pod.
      target = state_.store().containers.get(ns.target_id())->get();
      if (target->sandbox_id != pod.id) {
        throw Error(Errc::invalid_argument, "CreateContainer: target container " + target->id +
                                                " belongs to another pod sandbox (" + target->sandbox_id + ")");
      }
      if (target->state != v1::CONTAINER_RUNNING) {
        throw Error(Errc::failed_precondition, "CreateContainer: target container " + target->id + " is not running");
      }
    }
    const PodPaths paths = pod_paths(state_.store(), pod.id);
    if (ns.pid() == v1::POD && !fs::exists(paths.pid_ns) &&
        pod.config.linux().security_context().namespace_options().pid() != v1::NODE) {
      // A pod started by an older vpcrid pinned pause's PID namespace only when it shared it.
      runtime::container::pin_pid_namespace(paths.ns_dir, pod.pause);
    }

    spans.mark("validate");
    Store& store = state_.store();
    ContainerRecord r;
    r.id = new_id();
    r.sandbox_id = pod.id;
    r.config = config;
    r.image_id = image->id;
    r.created_at = now_ns();
    r.stop_signal = config.stop_signal() != v1::RUNTIME_DEFAULT ? signal_number(config.stop_signal())
                                                                : signal_number(image->config.stop_signal);
    if (!config.log_path().empty()) {
      if (pod.config.log_directory().empty()) {
        throw Error(Errc::invalid_argument, "CreateContainer: log_path is set but the pod has no log_directory");
      }
      if (pod.config.log_directory().front() != '/') {
        throw Error(Errc::invalid_argument, "CreateContainer: the pod's log_directory \"" + pod.config.log_directory() +
                                                "\" is not an absolute path");
      }
      check_log_path(config.log_path());
      r.log_path = pod.config.log_directory() + "/" + config.log_path();
    }
    if (config.linux().has_resources()) r.resources = config.linux().resources();
    r.cgroup_path = state_.cgroups().cgroup_path(pod.cgroup_parent, r.id);

    const std::string name = container_name(pod, config.metadata());
    store.containers.reserve_name(name, r.id);
    net::UndoStack undo;
    undo.push("releasing the name", [&] { store.containers.release_name(name); });
    state_.images().hold(image->id, r.id);
    undo.push("releasing the image", [&] { state_.images().release(image->id, r.id); });
    undo.push("removing the container's directories", [&] { store.erase_files(r); });
    // Intent first: a crash from here on leaves a record that the next start rolls back.
    r.creating = true;
    store.save(r);
    failpoint("create_container.intent");
    spans.mark("intent_record");
    fs::mkdir_p(store.container_state(r.id), 0711);
    const std::string rootfs_path = container_rootfs(store, r.id);
    // Volatile: no sync of <root>'s whole filesystem when it is unmounted at removal; a writable
    // layer is never used after a reboot (kubelet creates new containers), nor mounted twice.
    runtime::snapshot::RootfsOverlay rootfs(state_.images().rootfs_layers(*image), store.container_root(r.id), rootfs_path,
                                            runtime::snapshot::OverlayMountApi::automatic,
                                            runtime::snapshot::UpperSync::volatile_upper);
    failpoint("create_container.rootfs");
    spans.mark("rootfs");

    std::string target_pid_ns;
    if (target) {
      // Pinned now, joined at start: a pid is never looked up again (it could be recycled by then).
      target_pid_ns = container_target_pid_ns(store, r.id);
      runtime::container::pin_pid_namespace_at(target_pid_ns, target->process);
      undo.push("unpinning the target's PID namespace", [&] { runtime::container::unpin_namespace(target_pid_ns); });
    }
    auto spec = container_init_spec(pod, paths, config, *image, rootfs_path, target_pid_ns);
    set_init_spec(r, spec);
    // kubelet's directory, trusted as given; what is below it the monitor creates without
    // following symlinks (runtime/monitor/log_file.h).
    if (!r.log_path.empty()) fs::mkdir_p(pod.config.log_directory(), 0755);
    failpoint("create_container.spec");
    spans.mark("spec");
    r.creating = false;
    store.save(r);
    failpoint("create_container.saved");
    spans.mark("created_record");
    rootfs.release();
    state_.store().containers.insert(std::make_shared<Container>(r));
    undo.commit();
    publish_event(state_, r.id, r.sandbox_id, v1::CONTAINER_CREATED_EVENT);
    log::info("container created", {{"id", r.id}, {"name", name}, {"image", image->id}});
    resp->set_container_id(r.id);
    spans.mark("publish");
    spans.done();
  });
}

}  // namespace vpcri::cri

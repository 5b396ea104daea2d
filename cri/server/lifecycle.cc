#include "cri/server/lifecycle.h"

#include <csignal>
#include <mutex>
#include <variant>

#include "common/failpoint.h"
#include "common/log.h"
#include "cri/server/lifecycle_events.h"
#include "net/datapath/netns_file.h"
#include "runtime/container/pod_namespaces.h"
#include "runtime/snapshot/overlay.h"

namespace vpcri::cri {
namespace {

// Serializes looking at which cgroup parents exist (RunPodSandbox) with removing the ones vpcri
// made (teardown): a pod being created under a parent never sees it vanish under it.
std::mutex& cgroup_parents_mutex() {
  static std::mutex mu;
  return mu;
}

// rmdir of each level from the pod's cgroup_parent up to the topmost one vpcri made, while
// they are empty: a level another pod still uses stays (and so do those above it).
void remove_created_cgroup_parents(const RuntimeState& state, const SandboxRecord& pod) {
  const std::string& top = pod.created_cgroup_parent;
  if (pod.cgroup_parent != top && !pod.cgroup_parent.starts_with(top + "/")) {
    log::warn("not removing a cgroup parent that does not enclose the pod's",
              {{"pod", pod.id}, {"cgroup_parent", pod.cgroup_parent}, {"created", top}});
    return;
  }
  std::lock_guard lock(cgroup_parents_mutex());
  for (std::string level = pod.cgroup_parent; level.size() >= top.size(); level.resize(level.rfind('/'))) {
    if (!runtime::cgroup::Cgroup(state.cgroup_root(), level).remove_if_empty()) return;
    if (level == top) return;
  }
}

// How long a killed process may take to be reported gone.
constexpr std::chrono::seconds kKillWait{30};

// Runs one teardown step; a failure is logged and remembered, so the next steps still run.
template <class F>
void step(std::string& first_error, const std::string& what, F&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    log::warn("teardown step failed", {{"step", what}, {"error", e.what()}});
    if (first_error.empty()) first_error = what + ": " + e.what();
  }
}

}  // namespace

runtime::ExitStatus lost_status(const std::string& message) {
  runtime::ExitStatus status;
  status.exit_code = runtime::kExitCodeUnknown;
  status.reason = runtime::kExitUnknown;
  status.message = message;
  return status;
}

void mark_sandbox_notready(RuntimeState& state, Sandbox& pod) {
  bool changed = false;
  pod.update([&](SandboxRecord& r) {
    if (r.state == v1::SANDBOX_NOTREADY) return;
    r.state = v1::SANDBOX_NOTREADY;
    state.store().save(r);
    changed = true;
  });
  if (changed) publish_event(state, pod.id(), pod.id(), v1::CONTAINER_STOPPED_EVENT);
}

PodPaths pod_paths(const Store& store, const std::string& id) {
  PodPaths p;
  p.dir = store.pod_state(id);
  p.netns = p.dir + "/netns";
  p.ns_dir = p.dir + "/ns";
  p.pid_ns = p.ns_dir + "/pid";
  p.hosts = p.dir + "/hosts";
  p.resolv_conf = p.dir + "/resolv.conf";
  p.hostname = p.dir + "/hostname";
  p.shm = p.dir + "/shm";
  p.rootfs = p.dir + "/rootfs";
  p.monitor = p.dir + "/pause";
  return p;
}

std::string container_rootfs(const Store& store, const std::string& id) { return store.container_state(id) + "/rootfs"; }
std::string container_monitor_dir(const Store& store, const std::string& id) {
  return store.container_state(id) + "/monitor";
}

std::string container_target_pid_ns(const Store& store, const std::string& id) {
  return store.container_state(id) + "/target-pidns";
}

NewCgroup create_sandbox_cgroup(RuntimeState& state, SandboxRecord& pod,
                                const runtime::cgroup::LinuxResources& resources) {
  std::lock_guard lock(cgroup_parents_mutex());
  if (!pod.owns_cgroup_parent && state.cgroups().makes_parents()) {
    std::string level;
    for (size_t pos = 1; pos <= pod.cgroup_parent.size(); ++pos) {
      if (pos != pod.cgroup_parent.size() && pod.cgroup_parent[pos] != '/') continue;
      level = pod.cgroup_parent.substr(0, pos);
      if (!runtime::cgroup::Cgroup(state.cgroup_root(), level).exists()) {
        pod.created_cgroup_parent = level;
        break;
      }
    }
    // It exists because vpcri made it for another pod: this pod shares the duty to remove it,
    // so whichever of them goes last takes it along.
    if (pod.created_cgroup_parent.empty()) {
      // Read in place: kubelet's pod cgroups exist, so every pod start of a node takes this path.
      for (const auto& other : state.store().sandboxes.all()) {
        other->read([&](const SandboxRecord& r) {
          const std::string& top = r.created_cgroup_parent;
          if (!top.empty() && (pod.cgroup_parent == top || pod.cgroup_parent.starts_with(top + "/"))) {
            pod.created_cgroup_parent = top;
          }
        });
        if (!pod.created_cgroup_parent.empty()) break;
      }
    }
    if (!pod.created_cgroup_parent.empty()) state.store().save(pod);  // intent: recorded before it exists
  }
  auto cgroup = sandbox_cgroup(state, pod);
  auto hold = state.cgroups().create(cgroup, resources);
  return {std::move(cgroup), std::move(hold)};
}

runtime::cgroup::Cgroup sandbox_cgroup(const RuntimeState& state, const SandboxRecord& pod) {
  return runtime::cgroup::Cgroup(state.cgroup_root(), state.cgroups().cgroup_path(pod.cgroup_parent, pod.id));
}

void record_container_exit(RuntimeState& state, Container& container, const runtime::ExitStatus& status) {
  // Both the reaper and StopContainer may see the exit; only the first records and logs it.
  bool recorded = false;
  container.update([&](ContainerRecord& r) {
    if (r.state == v1::CONTAINER_EXITED) return;
    recorded = true;
    r.state = v1::CONTAINER_EXITED;
    r.exit_code = status.exit_code;
    r.finished_at = status.finished_at_ns > 0 ? status.finished_at_ns : now_ns();
    r.reason = status.reason;
    r.message = status.message;
    state.store().save(r);
  });
  container.set_monitor(nullptr);
  if (!recorded) return;
  publish_event(state, container.id(), container.get().sandbox_id, v1::CONTAINER_STOPPED_EVENT);
  log::info("container exited", {{"id", container.id()},
                                 {"exit_code", std::to_string(status.exit_code)},
                                 {"reason", status.reason}});
}

void watch_container(RuntimeState& state, const std::shared_ptr<Container>& container,
                     std::shared_ptr<runtime::MonitorHandle> monitor) {
  container->set_monitor(monitor);
  std::weak_ptr<Container> weak = container;
  state.reaper().watch(container->id(), monitor, [&state, weak, monitor] {
    auto c = weak.lock();
    if (!c) return;
    auto status = monitor->wait(std::chrono::milliseconds(0));
    record_container_exit(state, *c, status ? *status : lost_status("the container's monitor ended without a status"));
  });
}

namespace {

std::function<void()> on_pause_exit(RuntimeState& state, const std::shared_ptr<Sandbox>& pod) {
  std::weak_ptr<Sandbox> weak = pod;
  return [&state, weak] {
    auto p = weak.lock();
    if (!p) return;
    p->set_monitor(nullptr);
    p->set_pause(nullptr);
    mark_sandbox_notready(state, *p);
    log::info("pod sandbox's pause exited", {{"id", p->id()}});
  };
}

}  // namespace

void watch_sandbox(RuntimeState& state, const std::shared_ptr<Sandbox>& pod,
                   std::shared_ptr<runtime::container::PauseProcess> pause) {
  pod->set_pause(pause);
  state.reaper().watch(pod->id(), std::move(pause), on_pause_exit(state, pod));
}

void watch_sandbox(RuntimeState& state, const std::shared_ptr<Sandbox>& pod,
                   std::shared_ptr<runtime::MonitorHandle> monitor) {
  pod->set_monitor(monitor);
  state.reaper().watch(pod->id(), std::move(monitor), on_pause_exit(state, pod));
}

void stop_container(RuntimeState& state, Container& container, std::chrono::seconds timeout) {
  ContainerRecord r = container.get();
  if (r.state != v1::CONTAINER_RUNNING) return;
  auto monitor = container.monitor();
  std::optional<runtime::cgroup::Cgroup> cgroup;
  if (!r.cgroup_path.empty()) cgroup.emplace(state.cgroup_root(), r.cgroup_path);
  std::optional<runtime::ExitStatus> status;
  if (monitor) {
    if (timeout.count() > 0 && monitor->signal_container(r.stop_signal > 0 ? r.stop_signal : SIGTERM)) {
      status = monitor->wait(timeout);
    }
    if (!status) {
      monitor->signal_container(SIGKILL);
      if (cgroup) cgroup->kill_all(SIGKILL);
      status = monitor->wait(kKillWait);
    }
    if (!status) {
      throw Error(Errc::deadline_exceeded, "container " + r.id + " did not exit within " +
                                               std::to_string(kKillWait.count()) + "s of SIGKILL");
    }
  } else {
    // Running by the record, but its monitor is gone (it could not be re-adopted).
    if (cgroup) cgroup->kill_all(SIGKILL);
    status = lost_status("the container's monitor is gone");
  }
  // Whatever it started in a shared PID namespace goes too.
  if (cgroup) cgroup->kill_all(SIGKILL);
  state.reaper().unwatch(r.id);
  record_container_exit(state, container, *status);
}

void remove_container(RuntimeState& state, const std::shared_ptr<Container>& container) {
  stop_container(state, *container, std::chrono::seconds(0));
  ContainerRecord r = container->get();
  state.reaper().unwatch(r.id);
  std::string error;
  // Unmounted only: its upper and work dirs go with the container's directory (erase_files).
  step(error, "unmounting the rootfs", [&] { runtime::snapshot::unmount_all(container_rootfs(state.store(), r.id)); });
  if (!r.cgroup_path.empty()) {
    step(error, "removing the cgroup", [&] {
      state.cgroups().remove(runtime::cgroup::Cgroup(state.cgroup_root(), r.cgroup_path));
    });
  }
  step(error, "unpinning the target's PID namespace", [&] {
    runtime::container::unpin_namespace(container_target_pid_ns(state.store(), r.id));
  });
  if (!error.empty()) throw Error(Errc::internal, "removing container " + r.id + ": " + error);
  failpoint("remove_container.torn_down");
  state.store().erase_files(r);
  state.images().release(r.image_id, r.id);
  state.store().containers.erase(r.id);
  auto pod = state.store().sandboxes.find(r.sandbox_id);
  state.store().containers.release_name(pod ? container_name(pod->get(), r.config.metadata()) : r.id);
  publish_event(state, r.id, r.sandbox_id, v1::CONTAINER_DELETED_EVENT);
  log::info("container removed", {{"id", r.id}});
}

void stop_sandbox(RuntimeState& state, const std::shared_ptr<Sandbox>& pod) {
  for (const auto& c : state.store().containers_of(pod->id())) {
    std::lock_guard op(c->op());
    stop_container(state, *c, std::chrono::seconds(0));
  }
  SandboxRecord r = pod->get();
  if (auto pause = pod->pause()) {
    pause->kill();
    if (!pause->wait(kKillWait)) {
      throw Error(Errc::deadline_exceeded, "pause of pod sandbox " + r.id + " did not exit after SIGKILL");
    }
  }
  if (auto monitor = pod->monitor()) {
    monitor->signal_container(SIGKILL);
    if (!monitor->wait(kKillWait)) {
      throw Error(Errc::deadline_exceeded, "pause of pod sandbox " + r.id + " did not exit after SIGKILL");
    }
  }
  state.reaper().unwatch(r.id);
  pod->set_monitor(nullptr);
  pod->set_pause(nullptr);
  auto cgroup = sandbox_cgroup(state, r);
  if (cgroup.exists()) cgroup.kill_all(SIGKILL);
  mark_sandbox_notready(state, *pod);
  // The IP goes into cooldown, the veth, routes, rules and host ports go (idempotent).
  if (!is_host_network(r.config)) {
    if (auto network = state.network()) {
      network->detach(r.id);
      pod->update([&](SandboxRecord& rec) {
        if (rec.ip.empty()) return;
        rec.ip.clear();
        state.store().save(rec);
      });
    } else if (!r.ip.empty()) {
      log::warn("pod network not running: pod sandbox's IP is released at its next start",
                {{"id", r.id}, {"ip", r.ip}});
    }
  }
}

void teardown_sandbox(RuntimeState& state, const SandboxRecord& pod) {
  const PodPaths p = pod_paths(state.store(), pod.id);
  std::string error;
  if (!is_host_network(pod.config)) {
    step(error, "detaching the pod network", [&] {
      if (auto network = state.network()) network->detach(pod.id);
    });
  }
  step(error, "unmounting /dev/shm", [&] { runtime::snapshot::unmount_all(p.shm); });
  // Unmounted only: its upper and work dirs go with the pod's directory (erase_files).
  step(error, "unmounting the pause rootfs", [&] { runtime::snapshot::unmount_all(p.rootfs); });
  step(error, "unpinning namespaces", [&] { runtime::container::unpin_pod_namespaces(p.ns_dir); });
  step(error, "removing the network namespace", [&] { net::remove_netns_file(p.netns); });
  step(error, "removing the cgroup", [&] {
    if (pod.cgroup_parent.empty()) return;
    state.cgroups().remove(sandbox_cgroup(state, pod));
    if (pod.owns_cgroup_parent) runtime::cgroup::Cgroup(state.cgroup_root(), pod.cgroup_parent).remove();
    if (!pod.created_cgroup_parent.empty()) remove_created_cgroup_parents(state, pod);
  });
  if (!error.empty()) throw Error(Errc::internal, "tearing down pod sandbox " + pod.id + ": " + error);
}

}  // namespace vpcri::cri

// The restart path (docs/ARCHITECTURE.md, "Restart"): before vpcrid serves, every record is
// loaded and every intent record resolved, then whatever vpcri's own directories and cgroup
// parent hold that no record explains is removed. Pod networking recovers on its own afterwards
// (PodNetworks::restore releases the IP and veth of every pod not live here).
#include <sys/mount.h>

#include <csignal>
#include <filesystem>
#include <set>
#include <thread>
#include <variant>

#include "common/fs.h"
#include "common/log.h"
#include "cri/server/lifecycle.h"
#include "metrics/registry.h"
#include "runtime/container/pause_process.h"
#include "runtime/container/pod_namespaces.h"
#include "runtime/snapshot/overlay.h"

namespace vpcri::cri {
namespace {

namespace stdfs = std::filesystem;

constexpr std::chrono::seconds kMonitorGoneWait{10};

// What this start found of the pods and containers that were running when the last vpcrid
// ended: taken back (their monitor still held them), or lost (ended while no vpcrid watched).
// Every object kind is present from the start, so a series never appears out of nowhere.
struct RestartCounters {
  metrics::Family<metrics::Counter>& readopted = metrics::global().counter(
      "vpcri_restart_readopted_total", "Running pods and containers a starting vpcrid found alive and took back.",
      {"object"});
  metrics::Family<metrics::Counter>& lost = metrics::global().counter(
      "vpcri_restart_lost_total", "Running pods and containers a starting vpcrid found ended while it was away.",
      {"object"});
  RestartCounters() {
    for (const char* object : {"pod_sandbox", "container"}) {
      readopted.with({object});
      lost.with({object});
    }
  }
};

RestartCounters& restart_counters() {
  static RestartCounters counters;
  return counters;
}

// Ends whatever monitor holds `dir` and its process (pidfds checked against start times), and
// waits for the monitor's lock to be released. True if one ran.
bool end_monitor(const std::string& dir) {
  if (!runtime::monitor_running(dir)) return false;
  const auto deadline = std::chrono::steady_clock::now() + kMonitorGoneWait;
  // Re-read each round: a monitor that has just taken its lock writes its pid file next.
  while (runtime::monitor_running(dir)) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error(Errc::deadline_exceeded, "the vpcri-monitor of " + dir + " did not end after SIGKILL");
    }
    runtime::kill_abandoned(dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// RunPodSandbox was cut short: everything it may have made goes, in teardown's order.
void roll_back_sandbox(RuntimeState& state, const SandboxRecord& r) {
  const PodPaths paths = pod_paths(state.store(), r.id);
  if (fs::exists(paths.monitor)) end_monitor(paths.monitor);  // a pod an older vpcrid was making
  // pause, if the record names it; otherwise the teardown's cgroup removal kills it (it joined the
  // pod cgroup before it existed).
  if (auto pause = runtime::container::adopt_pause(r.pause)) {
    pause->kill();
    pause->wait(kMonitorGoneWait);
  }
  teardown_sandbox(state, r);  // no network yet: restore() releases the IP and veth of a pod not live
  state.store().erase_files(r);
  log::warn("rolled back a pod sandbox whose RunPodSandbox was cut short",
            {{"id", r.id}, {"name", sandbox_name(r.config.metadata())}});
}

// CreateContainer was cut short: its rootfs, pinned target namespace and directories go.
void roll_back_container(RuntimeState& state, const ContainerRecord& r) {
  Store& store = state.store();
  runtime::snapshot::remove_rootfs_overlay(store.container_root(r.id), container_rootfs(store, r.id));
  runtime::container::unpin_namespace(container_target_pid_ns(store, r.id));
  store.erase_files(r);
  log::warn("rolled back a container whose CreateContainer was cut short",
            {{"id", r.id}, {"name", r.config.metadata().name()}});
}

// A container whose pod sandbox has no record (its record was torn by a power loss and its pod
// swept): its process, cgroup, rootfs and directories go, as if CreateContainer was cut short.
void roll_back_orphan_container(RuntimeState& state, const ContainerRecord& r) {
  const std::string monitor = container_monitor_dir(state.store(), r.id);
  if (fs::exists(monitor)) end_monitor(monitor);
  if (!r.cgroup_path.empty()) state.cgroups().remove(runtime::cgroup::Cgroup(state.cgroup_root(), r.cgroup_path));
  roll_back_container(state, r);
  log::warn("removed a container whose pod sandbox has no record", {{"id", r.id}, {"pod", r.sandbox_id}});
}

// A CREATED container whose StartContainer may have been cut short: a monitor that runs is
// adopted (the container is RUNNING), one that ran gives its exit, and a start that never got
// its process running is undone, so a retried StartContainer starts it once.
void resolve_created_container(RuntimeState& state, const std::shared_ptr<Container>& container) {
  const ContainerRecord r = container->get();
  const std::string dir = container_monitor_dir(state.store(), r.id);
  if (fs::exists(dir)) {
    std::optional<std::variant<runtime::MonitorHandle, runtime::ExitStatus>> adopted;
    try {
      adopted = runtime::adopt(dir);
    } catch (const Error& e) {
      log::warn("cannot adopt the monitor of a container being started", {{"id", r.id}, {"error", e.what()}});
    }
    if (adopted) {
      if (auto* handle = std::get_if<runtime::MonitorHandle>(&*adopted)) {
        auto monitor = std::make_shared<runtime::MonitorHandle>(std::move(*handle));
        container->update([&](ContainerRecord& rec) {
          rec.state = v1::CONTAINER_RUNNING;
          rec.started_at = monitor->started_at_ns();
          rec.process = monitor->container();
          state.store().save(rec);
        });
        watch_container(state, container, monitor);
        log::info("adopted a container whose StartContainer was cut short", {{"id", r.id}});
        return;
      }
      if (fs::exists(dir + "/pid") && !runtime::monitor_running(dir)) {
        // It ran (or failed to exec) and ended: report that, as StartContainer would have.
        container->update([&](ContainerRecord& rec) { rec.started_at = now_ns(); });
        record_container_exit(state, *container, std::get<runtime::ExitStatus>(*adopted));
        return;
      }
    }
    end_monitor(dir);
  }
  if (!r.cgroup_path.empty()) state.cgroups().remove(runtime::cgroup::Cgroup(state.cgroup_root(), r.cgroup_path));
  if (fs::exists(dir)) {
    std::error_code ec;
    stdfs::remove_all(dir, ec);
    if (ec) throw Error(Errc::internal, "removing " + dir + ": " + ec.message());
    log::warn("undid a StartContainer that was cut short before its process ran", {{"id", r.id}});
  }
}

// A READY pod's pause again: by pid + start time from the record, or through its monitor for a
// pod an older vpcrid made (pause under vpcri-monitor). False if it is gone.
bool adopt_pause(RuntimeState& state, const std::shared_ptr<Sandbox>& pod) {
  const SandboxRecord r = pod->get();
  const std::string monitor_dir = pod_paths(state.store(), r.id).monitor;
  if (fs::exists(monitor_dir)) {
    auto adopted = runtime::adopt(monitor_dir);
    auto* handle = std::get_if<runtime::MonitorHandle>(&adopted);
    if (!handle) return false;
    watch_sandbox(state, pod, std::make_shared<runtime::MonitorHandle>(std::move(*handle)));
    return true;
  }
  auto pause = runtime::container::adopt_pause(r.pause);
  if (!pause) return false;
  watch_sandbox(state, pod, std::make_shared<runtime::container::PauseProcess>(std::move(*pause)));
  return true;
}

void recover_sandboxes(RuntimeState& state) {
  Store& store = state.store();
  for (SandboxRecord& r : store.load_sandboxes()) {
    if (r.creating) {
      try {
        roll_back_sandbox(state, r);
        continue;
      } catch (const std::exception& e) {
        // Kept (NOTREADY) so that RemovePodSandbox can finish it.
        log::error("rolling back a pod sandbox failed", {{"id", r.id}, {"error", e.what()}});
        r.creating = false;
        r.state = v1::SANDBOX_NOTREADY;
        store.save(r);
      }
    }
    auto pod = std::make_shared<Sandbox>(r);
    store.sandboxes.insert(pod);
    store.sandboxes.reserve_name(sandbox_name(r.config.metadata()), r.id);
    if (r.state != v1::SANDBOX_READY) continue;
    try {
      if (adopt_pause(state, pod)) {
        restart_counters().readopted.with({"pod_sandbox"}).inc();
        continue;
      }
      log::warn("pod sandbox's pause is gone", {{"id", r.id}, {"pid", std::to_string(r.pause.pid)}});
    } catch (const Error& e) {
      log::warn("pod sandbox's pause is gone", {{"id", r.id}, {"error", e.what()}});
    }
    restart_counters().lost.with({"pod_sandbox"}).inc();
    mark_sandbox_notready(state, *pod);
  }
}

void recover_containers(RuntimeState& state) {
  Store& store = state.store();
  for (ContainerRecord& r : store.load_containers()) {
    if (r.creating) {
      try {
        roll_back_container(state, r);
        continue;
      } catch (const std::exception& e) {
        log::error("rolling back a container failed", {{"id", r.id}, {"error", e.what()}});
        r.creating = false;
        store.save(r);
      }
    }
    auto pod = r.sandbox_id.empty() ? nullptr : store.sandboxes.find(r.sandbox_id);
    if (!pod) {
      try {
        roll_back_orphan_container(state, r);
        continue;
      } catch (const std::exception& e) {
        log::error("removing a container whose pod sandbox has no record failed", {{"id", r.id}, {"error", e.what()}});
      }
    }
    auto container = std::make_shared<Container>(r);
    store.containers.insert(container);
    store.containers.reserve_name(pod ? container_name(pod->get(), r.config.metadata()) : r.id, r.id);
    try {
      state.images().hold(r.image_id, r.id);
    } catch (const Error& e) {
      log::warn("container's image is gone", {{"id", r.id}, {"image", r.image_id}, {"error", e.what()}});
    }
    if (r.state == v1::CONTAINER_CREATED) {
      try {
        resolve_created_container(state, container);
      } catch (const std::exception& e) {
        log::error("resolving a container being started failed", {{"id", r.id}, {"error", e.what()}});
      }
      continue;
    }
    if (r.state != v1::CONTAINER_RUNNING) continue;
    try {
      auto adopted = runtime::adopt(container_monitor_dir(store, r.id));
      if (auto* handle = std::get_if<runtime::MonitorHandle>(&adopted)) {
        watch_container(state, container, std::make_shared<runtime::MonitorHandle>(std::move(*handle)));
        log::info("re-adopted running container", {{"id", r.id}});
        restart_counters().readopted.with({"container"}).inc();
      } else {
        restart_counters().lost.with({"container"}).inc();
        record_container_exit(state, *container, std::get<runtime::ExitStatus>(adopted));
      }
    } catch (const Error& e) {
      restart_counters().lost.with({"container"}).inc();
      record_container_exit(state, *container, lost_status(std::string("its state is gone: ") + e.what()));
    }
  }
}

// One directory under <root>/{pods,containers} or <state>/{pods,containers} that no record
// explains: its monitors are ended, its mounts (all beneath vpcri's own dir) unmounted, then
// it is deleted, and logged once with what it held.
void sweep_directory(const std::string& dir) {
  std::vector<std::string> monitors;
  for (const char* sub : {"pause", "monitor"}) {
    const std::string monitor = dir + "/" + sub;
    if (fs::exists(monitor) && end_monitor(monitor)) monitors.push_back(monitor);
  }
  auto mounts = mount_points_under(dir);
  // Deepest (latest mounted) first.
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (::umount2(it->c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      throw_errno("unmounting " + *it);
    }
  }
  std::error_code ec;
  stdfs::remove_all(dir, ec);
  if (ec) throw Error(Errc::internal, "removing " + dir + ": " + ec.message());
  std::string mounted;
  for (const auto& m : mounts) mounted += (mounted.empty() ? "" : " ") + m;
  std::string ended;
  for (const auto& m : monitors) ended += (ended.empty() ? "" : " ") + m;
  log::warn("removed a leftover no record explains",
            {{"path", dir}, {"unmounted", mounted}, {"monitors_ended", ended}});
}

std::vector<std::string> subdirectories(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) out.push_back(entry.path().filename().string());
  }
  return out;
}

// Returns the ids of the leftovers found.
std::set<std::string> sweep_kind(const std::string& root_dir, const std::string& state_dir,
                                 const std::set<std::string>& known) {
  std::set<std::string> swept;
  // The state side first: its monitors and mounts are what keep the root side busy.
  for (const std::string& top : {state_dir, root_dir}) {
    for (const std::string& id : subdirectories(top)) {
      // A directory whose record failed to load (torn by a power loss: records are not fsynced)
      // is swept too: its object is never trusted half-read, nor left holding mounts.
      if (known.count(id)) continue;
      swept.insert(id);
      try {
        sweep_directory(top + "/" + id);
      } catch (const std::exception& e) {
        log::error("cannot remove a leftover", {{"path", top + "/" + id}, {"error", e.what()}});
      }
    }
  }
  return swept;
}

// Cgroups under vpcri's own parent, /vpcri/<pod id>/{<pod id>, <container id>...}: those of the
// leftover pods found in our directories, and, in a live pod, those of no known container.
// Only cgroups that our own directories or records prove ours: several vpcrids (tests) may
// share the host's /vpcri.
void sweep_cgroups(RuntimeState& state, const std::set<std::string>& leftover_pods, const std::set<std::string>& containers) {
  const auto& root = state.cgroup_root();
  auto children = [&](const std::string& path) {
    std::set<std::string> names;
    for (const auto& dir : runtime::cgroup::Cgroup(root, path).directories()) {
      for (auto& name : subdirectories(dir)) names.insert(name);
    }
    return names;
  };
  auto sweep = [&](const std::string& parent, const std::string& keep_pod, bool remove_parent) {
    try {
      for (const std::string& child : children(parent)) {
        if (child == keep_pod || containers.count(child)) continue;
        state.cgroups().remove(runtime::cgroup::Cgroup(root, runtime::cgroup::join_cgroup_path(parent, child)));
        log::warn("removed a leftover cgroup no record explains", {{"cgroup", parent + "/" + child}});
      }
      runtime::cgroup::Cgroup own(root, parent);
      if (remove_parent && own.exists()) {
        state.cgroups().remove(own);
        log::warn("removed a leftover cgroup no record explains", {{"cgroup", parent}});
      }
    } catch (const std::exception& e) {
      log::error("cannot remove a leftover cgroup", {{"cgroup", parent}, {"error", e.what()}});
    }
  };
  for (const std::string& pod : leftover_pods) {
    std::string parent;
    try {
      parent = runtime::cgroup::join_cgroup_path(kOwnCgroupParent, pod);
    } catch (const Error&) {
      continue;  // not a name vpcri gives: not ours
    }
    sweep(parent, "", true);
  }
  for (const auto& pod : state.store().sandboxes.all()) {
    const SandboxRecord r = pod->get();
    if (r.owns_cgroup_parent) sweep(r.cgroup_parent, r.id, false);
  }
}

void sweep_orphans(RuntimeState& state) {
  Store& store = state.store();
  std::set<std::string> pods, containers;
  for (const auto& p : store.sandboxes.all()) pods.insert(p->id());
  for (const auto& c : store.containers.all()) containers.insert(c->id());
  const auto leftover_pods = sweep_kind(store.root() + "/pods", store.state() + "/pods", pods);
  sweep_kind(store.root() + "/containers", store.state() + "/containers", containers);
  sweep_cgroups(state, leftover_pods, containers);
}

}  // namespace

void recover(RuntimeState& state) {
  if (size_t removed = state.store().remove_stale_temp_files()) {
    log::info("removed temp files of interrupted writes", {{"count", std::to_string(removed)}});
  }
  restart_counters();  // every series at 0 from the first scrape
  recover_sandboxes(state);
  recover_containers(state);
  sweep_orphans(state);
}

}  // namespace vpcri::cri

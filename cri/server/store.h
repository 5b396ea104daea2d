// Pod sandboxes and containers: in memory for the List/Status RPCs kubelet polls every second,
// and persisted as one record file per object (<root>/pods/<id>/pod.json,
// <root>/containers/<id>/container.json), replaced atomically (temp file + rename) before an RPC
// returns, so a restarted vpcrid knows every object it made. Not fsynced: the page cache outlives
// any process crash, and a power loss ends every pod anyway; a record a power loss tore is
// swept with its object at start (recovery.cc). A removed object's directories are renamed into
// <root>/trash and <state>/trash and deleted there in the background (common/trash.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/trash.h"
#include "cri/api/cri_api.h"
#include "runtime/container/pause_process.h"
#include "runtime/container/spec.h"
#include "runtime/monitor/monitor.h"

namespace vpcri::cri {

namespace v1 = ::runtime::v1;

struct SandboxRecord {
  std::string id;
  v1::PodSandboxConfig config;
  std::string runtime_handler;
  v1::PodSandboxState state = v1::SANDBOX_NOTREADY;
  int64_t created_at = 0;  // ns
  std::string cgroup_parent;         // the pod's cgroup (kubelet's cgroup_parent, or ours)
  bool owns_cgroup_parent = false;   // no cgroup_parent was given: vpcri made (and removes) it
  // The topmost level of a requested cgroup_parent that did not exist and vpcri made ("" when
  // it existed): removed with the pod once no other pod's cgroup is below it.
  std::string created_cgroup_parent;
  std::string hostname;
  // The pod IP while the pod is attached to the pod network (RunPodSandbox until
  // StopPodSandbox); "" for host-network pods and once detached.
  std::string ip;
  runtime::ProcessRef pause;         // pid 0 once it is known to have ended
  // Intent record: saved before RunPodSandbox makes anything, cleared when the pod is READY. A
  // record still "creating" at start is rolled back (recovery.cc).
  bool creating = false;
  // The config as the record file holds it (JSON text), converted once: a config never changes
  // after creation, and its conversion cost more than the rest of a save. Derived, not saved;
  // copies of the record share it.
  mutable std::shared_ptr<const std::string> config_json;
};

struct ContainerRecord {
  std::string id;
  std::string sandbox_id;
  v1::ContainerConfig config;
  std::string image_id;  // the image it was created from ("sha256:...")
  v1::ContainerState state = v1::CONTAINER_CREATED;
  int64_t created_at = 0, started_at = 0, finished_at = 0;  // ns
  int32_t exit_code = 0;
  std::string reason, message;
  std::string log_path;     // absolute; empty when kubelet asked for none
  std::string init_spec;    // runtime::container::InitSpec as JSON, completed at start
  // The process's user as init_spec has it, parsed once (ContainerStatus, polled every second,
  // must not parse the whole spec); derived, not saved: set_init_spec and load_containers fill it.
  struct User {
    uint32_t uid = 0, gid = 0;
    std::vector<uint32_t> additional_gids;
  } user;
  std::string cgroup_path;  // <pod cgroup>/<id>
  int stop_signal = 0;      // 0: SIGTERM
  runtime::ProcessRef process;
  v1::LinuxContainerResources resources;  // as created, then as updated
  // Intent record: saved before CreateContainer mounts anything, cleared once it is complete.
  // A record still "creating" at start is rolled back (recovery.cc).
  bool creating = false;
  mutable std::shared_ptr<const std::string> config_json;  // as SandboxRecord::config_json
};

// One object. `op()` is held through long operations (start, stop, remove) so they do not
// interleave; the record is read and changed under a short lock, so listing never waits for them.
template <class Record>
class Object {
 public:
  explicit Object(Record record) : id_(record.id), record_(std::move(record)) {}
  const std::string& id() const { return id_; }
  std::mutex& op() { return op_; }

  Record get() const {
    std::lock_guard lock(mu_);
    return record_;
  }
  // Reads the record under the lock without copying it (List*: a copy of every record, its
  // config and spec, cost more than the answer itself). `read` must be short.
  template <class F>
  void read(F&& f) const {
    std::lock_guard lock(mu_);
    f(static_cast<const Record&>(record_));
  }
  // Changes the record under the lock and returns the new value.
  Record update(const std::function<void(Record&)>& change) {
    std::lock_guard lock(mu_);
    change(record_);
    return record_;
  }

  // The live monitor of the object's process (none when not running or not adopted).
  std::shared_ptr<runtime::MonitorHandle> monitor() const {
    std::lock_guard lock(mu_);
    return monitor_;
  }
  void set_monitor(std::shared_ptr<runtime::MonitorHandle> monitor) {
    std::lock_guard lock(mu_);
    monitor_ = std::move(monitor);
  }
  // Pod sandboxes only: their pause, started without a monitor (runtime/container/pause_process.h).
  // A pod an older vpcrid made has a monitor instead.
  std::shared_ptr<runtime::container::PauseProcess> pause() const {
    std::lock_guard lock(mu_);
    return pause_;
  }
  void set_pause(std::shared_ptr<runtime::container::PauseProcess> pause) {
    std::lock_guard lock(mu_);
    pause_ = std::move(pause);
  }

 private:
  const std::string id_;
  std::mutex op_;
  mutable std::mutex mu_;
  Record record_;
  std::shared_ptr<runtime::MonitorHandle> monitor_;
  std::shared_ptr<runtime::container::PauseProcess> pause_;
};

using Sandbox = Object<SandboxRecord>;
using Container = Object<ContainerRecord>;

// Objects of one kind by id, with their names reserved (one holder per name).
template <class Record>
class Table {
 public:
  using Ptr = std::shared_ptr<Object<Record>>;

  explicit Table(const char* kind) : kind_(kind) {}

  // Full id or unique prefix; nullptr when none matches; Error(invalid_argument) when the
  // prefix is ambiguous or empty.
  Ptr find(const std::string& id_or_prefix) const;
  // Like find, but Error(not_found) naming the kind and id when none matches.
  Ptr get(const std::string& id_or_prefix) const;
  std::vector<Ptr> all() const;

  // Error(already_exists) naming the holder when `name` is taken.
  void reserve_name(const std::string& name, const std::string& id);
  void release_name(const std::string& name);

  void insert(Ptr object);
  void erase(const std::string& id);

 private:
  const char* kind_;
  mutable std::mutex mu_;
  std::map<std::string, Ptr> objects_;
  std::map<std::string, std::string> names_;  // name -> id
};

// Sets record.init_spec (JSON) and record.user from `spec`.
void set_init_spec(ContainerRecord& record, const runtime::container::InitSpec& spec);

// The names kubelet must not use twice at once.
std::string sandbox_name(const v1::PodSandboxMetadata& m);
std::string container_name(const SandboxRecord& pod, const v1::ContainerMetadata& m);

// Mount points at or under `path` (absolute, no trailing slash), in /proc/self/mountinfo order
// (parents before what is mounted on them).
std::vector<std::string> mount_points_under(const std::string& path);

// A new object id: 64 random hex characters.
std::string new_id();

int64_t now_ns();

class Store {
 public:
  Store(std::string root, std::string state);
  ~Store();

  Table<SandboxRecord> sandboxes{"pod sandbox"};
  Table<ContainerRecord> containers{"container"};

  // The containers of one pod, found without copying any record (every container of the node is
  // looked at; a copy of each, config and spec included, cost more than the rest of the caller).
  std::vector<std::shared_ptr<Object<ContainerRecord>>> containers_of(const std::string& sandbox_id) const;

  // <root>/pods/<id>: the record and the pause rootfs upper dir; <state>/pods/<id>: pinned
  // namespaces, hosts/resolv.conf/hostname, the shm mount, the pause rootfs and monitor.
  std::string pod_root(const std::string& id) const { return root_ + "/pods/" + id; }
  std::string pod_state(const std::string& id) const { return state_ + "/pods/" + id; }
  // <root>/containers/<id>: the record and the rootfs upper dir; <state>/containers/<id>:
  // the rootfs mount point and the monitor's state dir.
  std::string container_root(const std::string& id) const { return root_ + "/containers/" + id; }
  std::string container_state(const std::string& id) const { return state_ + "/containers/" + id; }

  void save(const SandboxRecord& record) const;
  void save(const ContainerRecord& record) const;
  // Deletes the record and its directories (after everything in them is torn down; something
  // still mounted below them is refused with failed_precondition). Each directory is renamed into
  // the trash, <state>'s first, <root>'s with the record last, so a crash half-way leaves a record
  // that a retried removal finishes; the trash deletes them in the background (at the next start
  // after a crash).
  void erase_files(const SandboxRecord& record) const;
  void erase_files(const ContainerRecord& record) const;
  // Waits until the trash has deleted what it was given (tests).
  void drain_trash() const;

  // Removes the temp files of atomic writes a crash interrupted (fs::remove_stale_temp_files) in
  // every directory vpcrid writes files to: <root>, <root>/network, the records' directories, the
  // pods' files and the monitors' init.json. Never below a rootfs or an upper dir (the
  // containers' own files). Call at start, before anything writes. Returns how many.
  size_t remove_stale_temp_files() const;

  // Every record on disk; damaged (torn) ones are logged and skipped, and the orphan sweep
  // (recovery.cc) then removes their objects.
  std::vector<SandboxRecord> load_sandboxes() const;
  std::vector<ContainerRecord> load_containers() const;

  const std::string& root() const { return root_; }
  const std::string& state() const { return state_; }

 private:
  std::string root_;
  std::string state_;
  std::unique_ptr<Trash> root_trash_, state_trash_;
};

}  // namespace vpcri::cri

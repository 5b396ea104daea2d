#include "cri/server/cri_convert.h"

#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "cri/server/lifecycle.h"
#include "cri/server/pod_network_counters.h"
#include "runtime/container/spec.h"

namespace vpcri::cri {
namespace {

namespace stdfs = std::filesystem;

struct TreeUsage {
  uint64_t bytes = 0;
  uint64_t inodes = 0;
};

// Allocated bytes and inodes of a tree (hard links once), without following symlinks.
TreeUsage tree_usage(const std::string& dir) {
  TreeUsage u;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, stdfs::directory_options::skip_permission_denied, ec);
       !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (!seen.insert({st.st_dev, st.st_ino}).second) continue;
    u.inodes += 1;
    u.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return u;
}

void set_uint(v1::UInt64Value* field, const std::optional<uint64_t>& value) {
  if (value) field->set_value(*value);
}

void fill_cpu_memory(const runtime::cgroup::CgroupStats& s, int64_t ts, v1::CpuUsage* cpu, v1::MemoryUsage* mem) {
  cpu->set_timestamp(ts);
  set_uint(cpu->mutable_usage_core_nano_seconds(), s.cpu_usage_ns);
  mem->set_timestamp(ts);
  set_uint(mem->mutable_working_set_bytes(), s.memory_working_set_bytes);
  set_uint(mem->mutable_usage_bytes(), s.memory_usage_bytes);
  set_uint(mem->mutable_rss_bytes(), s.memory_rss_bytes);
  set_uint(mem->mutable_page_faults(), s.page_faults);
  set_uint(mem->mutable_major_page_faults(), s.major_page_faults);
}

void fill_interface(const net::InterfaceCounters& c, v1::NetworkInterfaceUsage* out) {
  out->set_name(c.name);
  out->mutable_rx_bytes()->set_value(c.rx_bytes);
  out->mutable_rx_errors()->set_value(c.rx_errors);
  out->mutable_tx_bytes()->set_value(c.tx_bytes);
  out->mutable_tx_errors()->set_value(c.tx_errors);
}

// Counters from inside the pod's netns: eth0 as the default interface, the rest beside it.
// No section at all when there is nothing to report (host network, namespace gone).
void fill_network(const std::vector<net::InterfaceCounters>& interfaces, int64_t ts,
                  v1::LinuxPodSandboxStats* linux) {
  if (interfaces.empty()) return;
  auto* network = linux->mutable_network();
  network->set_timestamp(ts);
  for (const auto& c : interfaces) {
    const bool is_default = c.name == kPodDefaultInterface;
    fill_interface(c, is_default ? network->mutable_default_interface() : network->add_interfaces());
  }
}

}  // namespace

bool labels_match(const Labels& selector, const Labels& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

void for_each_sandbox(Store& store, const std::string& id, const Labels& selector,
                      const std::function<void(const SandboxRecord&)>& visit) {
  std::vector<std::shared_ptr<Sandbox>> pods;
  if (id.empty()) {
    pods = store.sandboxes.all();
  } else if (auto pod = store.sandboxes.find(id)) {
    pods.push_back(pod);
  }
  for (const auto& pod : pods) {
    pod->read([&](const SandboxRecord& r) {
      if (labels_match(selector, r.config.labels())) visit(r);
    });
  }
}

void for_each_container(Store& store, const std::string& id, const std::string& pod_id, const Labels& selector,
                        const std::function<void(const ContainerRecord&)>& visit) {
  std::string full_pod_id;
  if (!pod_id.empty()) {
    auto pod = store.sandboxes.find(pod_id);
    if (!pod) return;
    full_pod_id = pod->id();
  }
  std::vector<std::shared_ptr<Container>> containers;
  if (id.empty()) {
    containers = store.containers.all();
  } else if (auto c = store.containers.find(id)) {
    containers.push_back(c);
  }
  for (const auto& c : containers) {
    c->read([&](const ContainerRecord& r) {
      if (!full_pod_id.empty() && r.sandbox_id != full_pod_id) return;
      if (labels_match(selector, r.config.labels())) visit(r);
    });
  }
}

std::vector<SandboxRecord> select_sandboxes(Store& store, const std::string& id, const Labels& selector) {
  std::vector<SandboxRecord> out;
  for_each_sandbox(store, id, selector, [&](const SandboxRecord& r) { out.push_back(r); });
  return out;
}

std::vector<ContainerRecord> select_containers(Store& store, const std::string& id, const std::string& pod_id,
                                               const Labels& selector) {
  std::vector<ContainerRecord> out;
  for_each_container(store, id, pod_id, selector, [&](const ContainerRecord& r) { out.push_back(r); });
  return out;
}

void to_cri(const SandboxRecord& r, v1::PodSandbox* out) {
  out->set_id(r.id);
  *out->mutable_metadata() = r.config.metadata();
  out->set_state(r.state);
  out->set_created_at(r.created_at);
  *out->mutable_labels() = r.config.labels();
  *out->mutable_annotations() = r.config.annotations();
  out->set_runtime_handler(r.runtime_handler);
}

void to_cri(const SandboxRecord& r, v1::PodSandboxStatus* out) {
  out->set_id(r.id);
  *out->mutable_metadata() = r.config.metadata();
  out->set_state(r.state);
  out->set_created_at(r.created_at);
  out->mutable_network()->set_ip(r.ip);  // "" for host network and once stopped
  *out->mutable_linux()->mutable_namespaces()->mutable_options() =
      r.config.linux().security_context().namespace_options();
  *out->mutable_labels() = r.config.labels();
  *out->mutable_annotations() = r.config.annotations();
  out->set_runtime_handler(r.runtime_handler);
}

void to_cri(const ContainerRecord& r, v1::Container* out) {
  out->set_id(r.id);
  out->set_pod_sandbox_id(r.sandbox_id);
  *out->mutable_metadata() = r.config.metadata();
  *out->mutable_image() = r.config.image();
  out->set_image_ref(r.image_id);
  out->set_image_id(r.image_id);
  out->set_state(r.state);
  out->set_created_at(r.created_at);
  *out->mutable_labels() = r.config.labels();
  *out->mutable_annotations() = r.config.annotations();
}

void to_cri(const ContainerRecord& r, v1::ContainerStatus* out) {
  out->set_id(r.id);
  *out->mutable_metadata() = r.config.metadata();
  out->set_state(r.state);
  out->set_created_at(r.created_at);
  out->set_started_at(r.started_at);
  out->set_finished_at(r.finished_at);
  out->set_exit_code(r.exit_code);
  *out->mutable_image() = r.config.image();
  out->set_image_ref(r.image_id);
  out->set_image_id(r.image_id);
  out->set_reason(r.reason);
  out->set_message(r.message);
  *out->mutable_labels() = r.config.labels();
  *out->mutable_annotations() = r.config.annotations();
  *out->mutable_mounts() = r.config.mounts();
  out->set_log_path(r.log_path);
  *out->mutable_resources()->mutable_linux() = r.resources;
  auto* user = out->mutable_user()->mutable_linux();
  user->set_uid(r.user.uid);
  user->set_gid(r.user.gid);
  for (uint32_t g : r.user.additional_gids) user->add_supplemental_groups(g);
  out->set_stop_signal(r.config.stop_signal());
}

void container_stats(RuntimeState& state, const ContainerRecord& r, v1::ContainerStats* out) {
  auto* attributes = out->mutable_attributes();
  attributes->set_id(r.id);
  *attributes->mutable_metadata() = r.config.metadata();
  *attributes->mutable_labels() = r.config.labels();
  *attributes->mutable_annotations() = r.config.annotations();
  const int64_t ts = now_ns();
  runtime::cgroup::Cgroup cgroup(state.cgroup_root(), r.cgroup_path);
  if (cgroup.exists()) fill_cpu_memory(cgroup.stats(), ts, out->mutable_cpu(), out->mutable_memory());
  const TreeUsage upper = tree_usage(state.store().container_root(r.id) + "/overlay");
  auto* layer = out->mutable_writable_layer();
  layer->set_timestamp(ts);
  layer->mutable_fs_id()->set_mountpoint(state.store().container_root(r.id));
  layer->mutable_used_bytes()->set_value(upper.bytes);
  layer->mutable_inodes_used()->set_value(upper.inodes);
}

void pod_stats(RuntimeState& state, const SandboxRecord& r, v1::PodSandboxStats* out) {
  pod_stats(state, r, pod_interface_counters(state.store(), r), out);
}

void pod_stats(RuntimeState& state, const SandboxRecord& r, const std::vector<net::InterfaceCounters>& interfaces,
               v1::PodSandboxStats* out) {
  auto* attributes = out->mutable_attributes();
  attributes->set_id(r.id);
  *attributes->mutable_metadata() = r.config.metadata();
  *attributes->mutable_labels() = r.config.labels();
  *attributes->mutable_annotations() = r.config.annotations();
  auto* linux = out->mutable_linux();
  const int64_t ts = now_ns();
  runtime::cgroup::Cgroup parent(state.cgroup_root(), r.cgroup_parent);
  if (parent.exists()) {
    const auto s = parent.stats();
    fill_cpu_memory(s, ts, linux->mutable_cpu(), linux->mutable_memory());
    linux->mutable_process()->set_timestamp(ts);
    set_uint(linux->mutable_process()->mutable_process_count(), s.pids_current);
  }
  fill_network(interfaces, ts, linux);
  for (const auto& c : state.store().containers_of(r.id)) {
    const ContainerRecord cr = c->get();
    if (cr.state != v1::CONTAINER_RUNNING) continue;
    container_stats(state, cr, linux->add_containers());
  }
}

}  // namespace vpcri::cri

// Daemon-wide state the RPC handlers share. Grows with pods, containers and images.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cri/config/config.h"
#include "cri/streaming/server.h"
#include "cri/streaming/token_cache.h"
#include "cri/server/container_events.h"
#include "cri/server/reaper.h"
#include "cri/server/store.h"
#include "net/cidr.h"
#include "net/pod_network.h"
#include "runtime/cgroup/manager.h"
#include "runtime/cgroup/root.h"
#include "runtime/cgroup_mode.h"
#include "runtime/container/launch.h"
#include "runtime/container/readonly_binary.h"
#include "runtime/image/image_manager.h"

namespace vpcri::cri {

// The host ports of a pod sandbox config, as the pod network takes them.
std::vector<net::PortMapping> port_mappings(const ::runtime::v1::PodSandboxConfig& config);
bool is_host_network(const ::runtime::v1::PodSandboxConfig& config);

// What RuntimeState otherwise takes from the host; unset fields keep the host's. The CRI fuzzer
// (fuzz/fuzz_cri.cc) runs the real handlers against a cgroup tree of plain directories (no file
// in it, so no write reaches a controller and no pid is ever read back to be signalled) and a
// registry client that gives up after one attempt instead of backing off for seconds.
struct HostOverrides {
  std::optional<runtime::cgroup::CgroupRoot> cgroup_root;
  std::optional<int> registry_max_attempts;
};

class RuntimeState {
 public:
  explicit RuntimeState(Config config, const HostOverrides& overrides = {});
  ~RuntimeState();

  // Imports the sandbox image and the configured preload archives. A failure is logged, not
  // fatal: the daemon still serves, and Status says why pods cannot start.
  void preload_images();

  runtime::image::ImageManager& images() { return *images_; }
  // The id of the sandbox image, or "" when it is absent. That image is pinned: kubelet's image
  // GC keeps it and RemoveImage refuses it. Callers listing many images look it up once.
  std::string pinned_image_id() const;
  // Empty when the sandbox image is present; else why pods cannot start.
  std::string sandbox_image_problem() const;

  const Config& config() const { return config_; }
  runtime::CgroupMode cgroup_mode() const { return cgroup_mode_; }
  const runtime::cgroup::CgroupRoot& cgroup_root() const { return cgroup_root_; }
  // The cgroup driver of config.cgroup_driver: names, makes, limits and removes cgroups.
  const runtime::cgroup::CgroupManager& cgroups() const { return *cgroups_; }
  // The helpers containers start with; vpcri-init as opened at start through a private
  // read-only mount. Throws failed_precondition (with init_problem()) if that failed.
  runtime::container::Binaries binaries() const;
  // Empty when vpcri-init is ready to run read-only; else why containers cannot start.
  const std::string& init_problem() const { return init_problem_; }
  // pause as opened at start through a private read-only mount (like vpcri-init): the fd pods
  // execute it from. Throws failed_precondition (with the reason) if that failed.
  int pause_fd() const;
  const std::string& pause_problem() const { return pause_problem_; }

  // Pods and containers, and the thread that records their exits.
  Store& store() { return store_; }
  Reaper& reaper() { return reaper_; }
  // Lifecycle events for GetContainerEvents (publish through lifecycle_events.h).
  ContainerEventBus& events() { return events_; }

  // The pod CIDRs (one per IP family) kubelet hands over with UpdateRuntimeConfig; persisted
  // under the root dir, because kubelet does not send them again when only vpcrid restarts.
  std::vector<net::Cidr> pod_cidrs() const;
  void set_pod_cidrs(const std::vector<net::Cidr>& cidrs);

  // Pod networking (net::PodNetworks). nullptr until start_network succeeded.
  std::shared_ptr<net::PodNetworkService> network() const;
  // Why network() is nullptr (or why it is not ready); "" when ready.
  std::string network_problem() const;
  // Builds the pod network from config.network (node range: the configured one, else the pod
  // CIDR from UpdateRuntimeConfig) and restores it with the live sandboxes (those holding an
  // IP, with their host ports). Call after recover() and before serving; UpdateRuntimeConfig
  // calls it again while it is not running. A failure is logged and kept for Status, not thrown.
  // Returns whether the network runs.
  bool start_network();
  // network.provider is none: pods get no IP, RunPodSandbox does not need the network.
  bool pod_networking_off() const { return config_.network.provider == "none"; }
  // Tests: use this service instead of building PodNetworks.
  void set_network(std::shared_ptr<net::PodNetworkService> network);

  // The streaming server behind Exec/PortForward URLs (config.streaming). The daemon starts it
  // before serving; throws if it cannot listen.
  void start_streaming();
  // A single-use URL for `request`. Throws unavailable before start_streaming, and
  // resource_exhausted when too many URLs wait to be used.
  std::string streaming_url(std::shared_ptr<const streaming::Request> request);

 private:
  std::string pod_cidr_path() const;

  Config config_;
  std::optional<runtime::container::ReadOnlyBinary> init_;
  std::string init_problem_;
  std::optional<runtime::container::ReadOnlyBinary> pause_;
  std::string pause_problem_;
  runtime::CgroupMode cgroup_mode_;
  runtime::cgroup::CgroupRoot cgroup_root_;
  std::unique_ptr<runtime::cgroup::CgroupManager> cgroups_;
  std::unique_ptr<runtime::image::ImageManager> images_;
  Store store_;
  // Events queued per subscriber before it counts as fallen behind (containerd keeps 1000).
  static constexpr size_t kEventQueueLimit = 1000;
  ContainerEventBus events_{kEventQueueLimit};  // before reaper_: its callbacks publish
  Reaper reaper_;  // after store_: stopped before the objects its callbacks use go away
  mutable std::mutex mu_;
  std::vector<net::Cidr> pod_cidrs_;
  std::mutex network_start_mu_;  // one start_network at a time
  std::shared_ptr<net::PodNetworkService> network_;  // under mu_
  std::string network_problem_;                      // under mu_
  // Last: sessions use the store and the binaries, so the server stops (and ends them) first.
  std::unique_ptr<streaming::TokenCache> stream_tokens_;
  std::unique_ptr<streaming::Server> streaming_;
};

}  // namespace vpcri::cri

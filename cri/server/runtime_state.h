// Daemon-wide state the RPC handlers share. Grows with pods, containers and images.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cri/config/config.h"
#include "cri/server/reaper.h"
#include "cri/server/store.h"
#include "net/cidr.h"
#include "runtime/cgroup/root.h"
#include "runtime/cgroup_mode.h"
#include "runtime/container/launch.h"
#include "runtime/image/image_manager.h"

namespace vpcri::cri {

class RuntimeState {
 public:
  explicit RuntimeState(Config config);
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
  runtime::container::Binaries binaries() const {
    return {config_.runtime.monitor_path, config_.runtime.init_path};
  }

  // Pods and containers, and the thread that records their exits.
  Store& store() { return store_; }
  Reaper& reaper() { return reaper_; }

  // The pod CIDRs (one per IP family) kubelet hands over with UpdateRuntimeConfig; persisted
  // under the root dir, because kubelet does not send them again when only vpcrid restarts.
  std::vector<net::Cidr> pod_cidrs() const;
  void set_pod_cidrs(const std::vector<net::Cidr>& cidrs);

 private:
  std::string pod_cidr_path() const;

  Config config_;
  runtime::CgroupMode cgroup_mode_;
  runtime::cgroup::CgroupRoot cgroup_root_;
  std::unique_ptr<runtime::image::ImageManager> images_;
  Store store_;
  Reaper reaper_;  // after store_: stopped before the objects its callbacks use go away
  mutable std::mutex mu_;
  std::vector<net::Cidr> pod_cidrs_;
};

}  // namespace vpcri::cri

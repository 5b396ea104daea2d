// Daemon-wide state the RPC handlers share. Grows with pods, containers and images.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "cri/config/config.h"
#include "net/cidr.h"
#include "runtime/cgroup_mode.h"

namespace vpcri::cri {

class RuntimeState {
 public:
  explicit RuntimeState(Config config);

  const Config& config() const { return config_; }
  runtime::CgroupMode cgroup_mode() const { return cgroup_mode_; }

  // The pod CIDRs (one per IP family) kubelet hands over with UpdateRuntimeConfig; persisted
  // under the root dir, because kubelet does not send them again when only vpcrid restarts.
  std::vector<net::Cidr> pod_cidrs() const;
  void set_pod_cidrs(const std::vector<net::Cidr>& cidrs);

 private:
  std::string pod_cidr_path() const;

  Config config_;
  runtime::CgroupMode cgroup_mode_;
  mutable std::mutex mu_;
  std::vector<net::Cidr> pod_cidrs_;
};

}  // namespace vpcri::cri

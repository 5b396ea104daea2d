// CRI settings turned into runtime/ values: resources, seccomp, masked paths, mounts, and the
// whole InitSpec of a container.
#pragma once

#include <string>
#include <vector>

#include "cri/api/cri_api.h"
#include "cri/server/lifecycle.h"
#include "cri/server/store.h"
#include "runtime/cgroup/resources.h"
#include "runtime/container/spec.h"
#include "runtime/image/image_manager.h"
#include "runtime/security/capabilities.h"

namespace vpcri::cri {

// containerd's defaults, used when the CRI request gives none (and none when privileged).
const std::vector<std::string>& default_masked_paths();
const std::vector<std::string>& default_readonly_paths();

runtime::cgroup::LinuxResources to_linux_resources(const v1::LinuxContainerResources& r);

// The seccomp profile from the SecurityProfile field when set, else the deprecated string
// ("runtime/default", "docker/default", "localhost/<path>", "unconfined", "" = unconfined).
// A Localhost profile must be an absolute path to a loadable profile: else invalid_argument.
runtime::container::SeccompSpec seccomp_spec(const v1::LinuxContainerSecurityContext& sc);

// The signal number of CRI's Signal enum or of an image's StopSignal ("SIGTERM", "TERM", "15");
// 0 when unset; Error(invalid_argument) when unknown.
int signal_number(v1::Signal signal);
int signal_number(const std::string& name);

// Everything vpcri-init needs to start the container (cgroup_dirs are added at start).
// `rootfs` is the mounted container rootfs; `target_pid_ns` the pinned namespace file of the
// target container for a TARGET PID namespace. PID modes: POD joins pause's namespace (also when
// the pod does not share it; the node's in a hostPID pod), CONTAINER gets a fresh one, NODE the
// node's, TARGET the target's.
runtime::container::InitSpec container_init_spec(const SandboxRecord& pod, const PodPaths& pod_paths,
                                                 const v1::ContainerConfig& config,
                                                 const runtime::image::Image& image, const std::string& rootfs,
                                                 const std::string& target_pid_ns);

}  // namespace vpcri::cri

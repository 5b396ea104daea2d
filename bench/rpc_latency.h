// The latency of the CRI calls kubelet makes often besides the pod lifecycle (vpcri-bench's
// "rpcs" scenario): PullImage of an image already present, ImageStatus, ListImages,
// ContainerStatus, PodSandboxStatus, ListContainers, ListPodSandbox, and RemoveImage of an image
// pulled (untimed) just before each removal.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cri/ctl/client.h"

namespace vpcri::bench {

struct RpcLatencyOptions {
  std::string image;         // present (pulled before): PullImage, ImageStatus
  std::string remove_image;  // pulled and removed for each RemoveImage sample; "" skips RemoveImage
  int calls = 100;           // samples per read-only RPC (after `warmup` excluded rounds)
  int removes = 20;          // RemoveImage samples
  int warmup = 5;
};

struct RunningPod {
  std::string sandbox_id;
  std::string container_id;
};

// Calls each RPC once per round, in a fixed order, so machine noise spreads evenly over them;
// the status calls go round robin over `pods` (running containers). Returns
// {"ops": {RPC: summary}, "ops_samples_ms": {RPC: [...]}, "pods": N}. A failing call throws.
nlohmann::json measure_rpc_latency(ctl::Client& client, const RpcLatencyOptions& options,
                                   const std::vector<RunningPod>& pods);

}  // namespace vpcri::bench

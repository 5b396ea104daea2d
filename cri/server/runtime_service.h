// runtime.v1 RuntimeService and ImageService. Each implemented RPC lives in its own file
// (version.cc, status.cc, ...); RPCs not built yet answer UNIMPLEMENTED naming the RPC.
#pragma once

#include <atomic>

#include "cri/api/cri_api.h"
#include "cri/server/runtime_state.h"

namespace vpcri::cri {

namespace v1 = ::runtime::v1;

// Unary RPCs that are not implemented yet: (name, request, response).
#define VPCRI_UNIMPLEMENTED_RUNTIME_UNARY(X)                                      \
  X(CheckpointContainer, CheckpointContainerRequest, CheckpointContainerResponse) \
  X(UpdatePodSandboxResources, UpdatePodSandboxResourcesRequest, UpdatePodSandboxResourcesResponse)

// Server-streaming RPCs that are not implemented yet: (name, request, streamed response).
#define VPCRI_UNIMPLEMENTED_RUNTIME_STREAMS(X)                                    \
  X(StreamPodSandboxes, StreamPodSandboxesRequest, StreamPodSandboxesResponse)    \
  X(StreamContainers, StreamContainersRequest, StreamContainersResponse)          \
  X(StreamContainerStats, StreamContainerStatsRequest, StreamContainerStatsResponse) \
  X(StreamPodSandboxStats, StreamPodSandboxStatsRequest, StreamPodSandboxStatsResponse)

#define VPCRI_UNIMPLEMENTED_IMAGE_STREAMS(X) X(StreamImages, StreamImagesRequest, StreamImagesResponse)

#define VPCRI_DECLARE_UNARY(Name, Request, Response) \
  grpc::Status Name(grpc::ServerContext*, const v1::Request*, v1::Response*) override;
#define VPCRI_DECLARE_STREAM(Name, Request, Response) \
  grpc::Status Name(grpc::ServerContext*, const v1::Request*, grpc::ServerWriter<v1::Response>*) override;

class RuntimeService final : public v1::RuntimeService::Service {
 public:
  explicit RuntimeService(RuntimeState& state) : state_(state) {}

  grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest*, v1::VersionResponse*) override;
  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*, v1::StatusResponse*) override;
  grpc::Status RuntimeConfig(grpc::ServerContext*, const v1::RuntimeConfigRequest*,
                             v1::RuntimeConfigResponse*) override;
  grpc::Status UpdateRuntimeConfig(grpc::ServerContext*, const v1::UpdateRuntimeConfigRequest*,
                                   v1::UpdateRuntimeConfigResponse*) override;

  // Pods and containers: one file per RPC (run_pod_sandbox.cc, ...).
  VPCRI_DECLARE_UNARY(RunPodSandbox, RunPodSandboxRequest, RunPodSandboxResponse)
  VPCRI_DECLARE_UNARY(StopPodSandbox, StopPodSandboxRequest, StopPodSandboxResponse)
  VPCRI_DECLARE_UNARY(RemovePodSandbox, RemovePodSandboxRequest, RemovePodSandboxResponse)
  VPCRI_DECLARE_UNARY(PodSandboxStatus, PodSandboxStatusRequest, PodSandboxStatusResponse)
  VPCRI_DECLARE_UNARY(ListPodSandbox, ListPodSandboxRequest, ListPodSandboxResponse)
  VPCRI_DECLARE_UNARY(CreateContainer, CreateContainerRequest, CreateContainerResponse)
  VPCRI_DECLARE_UNARY(StartContainer, StartContainerRequest, StartContainerResponse)
  VPCRI_DECLARE_UNARY(StopContainer, StopContainerRequest, StopContainerResponse)
  VPCRI_DECLARE_UNARY(RemoveContainer, RemoveContainerRequest, RemoveContainerResponse)
  VPCRI_DECLARE_UNARY(ListContainers, ListContainersRequest, ListContainersResponse)
  VPCRI_DECLARE_UNARY(ContainerStatus, ContainerStatusRequest, ContainerStatusResponse)
  VPCRI_DECLARE_UNARY(UpdateContainerResources, UpdateContainerResourcesRequest, UpdateContainerResourcesResponse)
  VPCRI_DECLARE_UNARY(ReopenContainerLog, ReopenContainerLogRequest, ReopenContainerLogResponse)
  VPCRI_DECLARE_UNARY(ExecSync, ExecSyncRequest, ExecSyncResponse)
  // Streaming (streaming.cc): each returns a URL of the streaming server.
  VPCRI_DECLARE_UNARY(Exec, ExecRequest, ExecResponse)
  VPCRI_DECLARE_UNARY(Attach, AttachRequest, AttachResponse)  // attach.cc
  VPCRI_DECLARE_UNARY(PortForward, PortForwardRequest, PortForwardResponse)
  VPCRI_DECLARE_UNARY(ContainerStats, ContainerStatsRequest, ContainerStatsResponse)
  VPCRI_DECLARE_UNARY(ListContainerStats, ListContainerStatsRequest, ListContainerStatsResponse)
  VPCRI_DECLARE_UNARY(PodSandboxStats, PodSandboxStatsRequest, PodSandboxStatsResponse)
  VPCRI_DECLARE_UNARY(ListPodSandboxStats, ListPodSandboxStatsRequest, ListPodSandboxStatsResponse)
  // cAdvisor-named metrics for kubelet's /metrics/cadvisor (cadvisor_metrics.h).
  VPCRI_DECLARE_UNARY(ListMetricDescriptors, ListMetricDescriptorsRequest, ListMetricDescriptorsResponse)
  VPCRI_DECLARE_UNARY(ListPodSandboxMetrics, ListPodSandboxMetricsRequest, ListPodSandboxMetricsResponse)
  // The same samples as ListPodSandboxMetrics, one pod per message (list_pod_sandbox_metrics.cc).
  VPCRI_DECLARE_STREAM(StreamPodSandboxMetrics, StreamPodSandboxMetricsRequest, StreamPodSandboxMetricsResponse)
  // The lifecycle event stream kubelet's evented PLEG follows (get_container_events.cc).
  VPCRI_DECLARE_STREAM(GetContainerEvents, GetEventsRequest, ContainerEventResponse)

  VPCRI_UNIMPLEMENTED_RUNTIME_UNARY(VPCRI_DECLARE_UNARY)
  VPCRI_UNIMPLEMENTED_RUNTIME_STREAMS(VPCRI_DECLARE_STREAM)

 private:
  RuntimeState& state_;
  std::atomic<int> exec_sync_running_{0};  // ExecSync calls in flight (runtime.max_concurrent_exec_sync)
};

class ImageService final : public v1::ImageService::Service {
 public:
  explicit ImageService(RuntimeState& state) : state_(state) {}

  grpc::Status ListImages(grpc::ServerContext*, const v1::ListImagesRequest*, v1::ListImagesResponse*) override;
  grpc::Status ImageStatus(grpc::ServerContext*, const v1::ImageStatusRequest*, v1::ImageStatusResponse*) override;
  grpc::Status PullImage(grpc::ServerContext*, const v1::PullImageRequest*, v1::PullImageResponse*) override;
  grpc::Status RemoveImage(grpc::ServerContext*, const v1::RemoveImageRequest*, v1::RemoveImageResponse*) override;
  grpc::Status ImageFsInfo(grpc::ServerContext*, const v1::ImageFsInfoRequest*, v1::ImageFsInfoResponse*) override;
  VPCRI_UNIMPLEMENTED_IMAGE_STREAMS(VPCRI_DECLARE_STREAM)

 private:
  RuntimeState& state_;
};

#undef VPCRI_DECLARE_UNARY
#undef VPCRI_DECLARE_STREAM

}  // namespace vpcri::cri

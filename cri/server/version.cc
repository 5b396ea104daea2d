#include "build_info.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

// The kubelet-facing API version string every CRI runtime reports (containerd, CRI-O).
constexpr const char* kKubeletApiVersion = "0.1.0";

grpc::Status RuntimeService::Version(grpc::ServerContext*, const v1::VersionRequest*, v1::VersionResponse* resp) {
  return handle_rpc("Version", [&] {
    resp->set_version(kKubeletApiVersion);
    resp->set_runtime_name("vpcri");
    resp->set_runtime_version(VPCRI_VERSION);
    resp->set_runtime_api_version("v1");
  });
}

}  // namespace vpcri::cri

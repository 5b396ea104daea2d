// vpcri.v1.Admin: image import and pull with progress, for vpcrictl (see admin.proto).
#pragma once

#include "admin.grpc.pb.h"
#include "cri/server/runtime_state.h"

namespace vpcri::cri {

class AdminService final : public ::vpcri::v1::Admin::Service {
 public:
  explicit AdminService(RuntimeState& state) : state_(state) {}

  grpc::Status ImportImage(grpc::ServerContext*, const ::vpcri::v1::ImportImageRequest*,
                           ::vpcri::v1::ImportImageResponse*) override;
  grpc::Status PullImage(grpc::ServerContext*, const ::vpcri::v1::PullImageRequest*,
                         grpc::ServerWriter<::vpcri::v1::PullImageProgress>*) override;

 private:
  RuntimeState& state_;
};

}  // namespace vpcri::cri

// The RPCs of ImageService that vpcri does not implement yet.
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

#define VPCRI_DEFINE_STREAM(Name, Request, Response)                                                \
  grpc::Status ImageService::Name(grpc::ServerContext*, const v1::Request*, grpc::ServerWriter<v1::Response>*) { \
    return unimplemented(#Name);                                                                    \
  }

VPCRI_UNIMPLEMENTED_IMAGE_STREAMS(VPCRI_DEFINE_STREAM)

}  // namespace vpcri::cri

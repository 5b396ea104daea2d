// The RPCs of RuntimeService that vpcri does not implement yet.
#include "cri/server/runtime_service.h"

#include "cri/server/grpc_status.h"

namespace vpcri::cri {

#define VPCRI_DEFINE_UNARY(Name, Request, Response) \
  grpc::Status RuntimeService::Name(grpc::ServerContext*, const v1::Request*, v1::Response*) { return unimplemented(#Name); }
#define VPCRI_DEFINE_STREAM(Name, Request, Response)                                                  \
  grpc::Status RuntimeService::Name(grpc::ServerContext*, const v1::Request*, grpc::ServerWriter<v1::Response>*) { \
    return unimplemented(#Name);                                                                      \
  }

VPCRI_UNIMPLEMENTED_RUNTIME_UNARY(VPCRI_DEFINE_UNARY)
VPCRI_UNIMPLEMENTED_RUNTIME_STREAMS(VPCRI_DEFINE_STREAM)

}  // namespace vpcri::cri

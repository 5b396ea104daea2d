// Logs every CRI request at debug level (method, status code, duration) and counts it in the
// metrics (vpcri_cri_requests_total, vpcri_cri_request_duration_seconds) from one interceptor,
// so handlers stay free of logging boilerplate.
#pragma once

#include <grpcpp/support/server_interceptor.h>

namespace vpcri::cri {

class RequestLogFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace vpcri::cri

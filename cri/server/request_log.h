// Logs every CRI request at debug level (method, status code, duration) and counts it in the
// metrics (vpcri_cri_requests_total, vpcri_cri_request_duration_seconds) from one interceptor,
// so handlers stay free of logging boilerplate. A failed request is logged once at info level
// with the pod (namespace/name) and container it was about, so an operator finds a pod's
// failures by its Kubernetes name rather than by a 64-character id.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/support/server_interceptor.h>

#include <string>

namespace vpcri::cri {

class Store;

// The pod and container a request names, as log fields: from the PodSandboxConfig it carries
// (RunPodSandbox, CreateContainer, PullImage), else from the pod or container id it names,
// looked up in `store`. Empty fields for requests about no pod, or ids not known.
struct RequestSubject {
  std::string pod;        // "namespace/name"
  std::string container;  // the container's metadata name
};
RequestSubject request_subject(const google::protobuf::Message& request, const Store& store);

// What a request says about its subject, copied from it as it arrives (a few strings, no lookup):
// the store is searched only if the request fails, so a successful one pays for no record copy.
struct RequestNames {
  RequestSubject from_config;  // names the request's PodSandboxConfig / ContainerConfig carry
  std::string pod_id;
  std::string container_id;
};
RequestNames request_names(const google::protobuf::Message& request);
RequestSubject resolve_subject(const RequestNames& names, const Store& store);

class RequestLogFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RequestLogFactory(const Store& store) : store_(store) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

 private:
  const Store& store_;
};

}  // namespace vpcri::cri

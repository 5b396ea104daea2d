// vpcrictl's connection to a CRI endpoint.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "admin.grpc.pb.h"
#include "cri/api/cri_api.h"

namespace vpcri::ctl {

// Accepts "unix:///path", "unix:/path" or a plain "/path".
std::string grpc_target(const std::string& endpoint);

class Client {
 public:
  Client(const std::string& endpoint, std::chrono::milliseconds timeout);

  runtime::v1::RuntimeService::Stub& runtime() { return *runtime_; }
  runtime::v1::ImageService::Stub& images() { return *images_; }
  ::vpcri::v1::Admin::Stub& admin() { return *admin_; }

  // A context whose deadline is the configured timeout.
  std::unique_ptr<grpc::ClientContext> context() const;
  std::unique_ptr<grpc::ClientContext> context(std::chrono::milliseconds timeout) const;

  // Throws a readable error ("Status: rpc error: code = Unavailable desc = ...") when !status.ok().
  void check(const grpc::Status& status, const char* rpc) const;

 private:
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<runtime::v1::ImageService::Stub> images_;
  std::unique_ptr<::vpcri::v1::Admin::Stub> admin_;
};

}  // namespace vpcri::ctl

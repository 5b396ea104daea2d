#include "cri/ctl/client.h"

#include <stdexcept>

namespace vpcri::ctl {

std::string grpc_target(const std::string& endpoint) {
  if (endpoint.rfind("unix://", 0) == 0) return "unix:" + endpoint.substr(7);
  if (endpoint.rfind("unix:", 0) == 0) return endpoint;
  if (!endpoint.empty() && endpoint[0] == '/') return "unix:" + endpoint;
  throw std::invalid_argument("endpoint \"" + endpoint + "\" is not a unix socket (use unix:///path or /path)");
}

Client::Client(const std::string& endpoint, std::chrono::milliseconds timeout)
    : endpoint_(endpoint),
      timeout_(timeout),
      channel_(grpc::CreateChannel(grpc_target(endpoint), grpc::InsecureChannelCredentials())),
      runtime_(runtime::v1::RuntimeService::NewStub(channel_)),
      images_(runtime::v1::ImageService::NewStub(channel_)),
      admin_(::vpcri::v1::Admin::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Client::context() const { return context(timeout_); }

std::unique_ptr<grpc::ClientContext> Client::context(std::chrono::milliseconds timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

void Client::check(const grpc::Status& status, const char* rpc) const {
  if (status.ok()) return;
  static const char* const names[] = {"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
                                      "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
                                      "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
                                      "Unauthenticated"};
  int code = status.error_code();
  std::string name = code >= 0 && code <= 16 ? names[code] : std::to_string(code);
  std::string hint;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) hint = " (is vpcrid running at " + endpoint_ + "?)";
  throw std::runtime_error(std::string(rpc) + ": rpc error: code = " + name + " desc = " + status.error_message() + hint);
}

}  // namespace vpcri::ctl

#include "net/aws/ec2_api.h"

namespace vpcri::net::aws {
namespace {

bool is_throttling_code(const std::string& code) {
  return code == "RequestLimitExceeded" || code == "Throttling" || code == "ThrottlingException";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Errc errc_for(const std::string& code, int http_status) {
  if (code.empty() || is_throttling_code(code) || http_status >= 500) return Errc::unavailable;
  if (code == "UnauthorizedOperation" || code == "AuthFailure" || code == "AccessDenied") {
    return Errc::failed_precondition;
  }
  if (ends_with(code, ".NotFound") || ends_with(code, ".Malformed")) {
    return ends_with(code, ".NotFound") ? Errc::not_found : Errc::invalid_argument;
  }
  if (code.rfind("Insufficient", 0) == 0 || ends_with(code, "LimitExceeded")) return Errc::resource_exhausted;
  if (code.rfind("InvalidParameter", 0) == 0 || code == "MissingParameter") return Errc::invalid_argument;
  if (ends_with(code, ".InUse") || code == "IncorrectState" || code == "IncorrectInstanceState") {
    return Errc::failed_precondition;
  }
  return Errc::unavailable;
}

}  // namespace

Ec2Error::Ec2Error(std::string aws_code, std::string message, int http_status, std::string request_id)
    : Error(errc_for(aws_code, http_status),
            aws_code.empty() ? message : aws_code + ": " + message),
      aws_code_(std::move(aws_code)),
      http_status_(http_status),
      request_id_(std::move(request_id)) {}

bool Ec2Error::throttled() const { return is_throttling_code(aws_code_); }

bool Ec2Error::retryable() const { return throttled() || http_status_ >= 500 || http_status_ == 0; }

}  // namespace vpcri::net::aws

// Ec2Error: an EC2 (or STS, IMDS) failure with the vpcri::Errc its code means to a caller.
#include <string_view>

#include "net/aws/ec2_api.h"

namespace vpcri::net::aws {
namespace {

bool is_throttling_code(std::string_view code) {
  return code == "RequestLimitExceeded" || code == "Throttling" || code == "ThrottlingException" ||
         code == "RequestThrottled";
}

Errc errc_for(std::string_view code, int http_status) {
  if (http_status == 0 || http_status >= 500 || http_status == 429 || is_throttling_code(code) || code == "InternalError" ||
      code == "ServiceUnavailable" || code == "Unavailable") {
    return Errc::unavailable;  // worth trying again later
  }
  if (code == "InsufficientFreeAddressesInSubnet" || code == "AttachmentLimitExceeded" ||
      code == "PrivateIpAddressLimitExceeded" || code == "NetworkInterfaceLimitExceeded" ||
      code == "InsufficientCidrBlocks" || code.ends_with("LimitExceeded")) {
    return Errc::resource_exhausted;
  }
  if (code == "UnauthorizedOperation" || code == "AuthFailure" || code == "AccessDenied" ||
      code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" || code == "OptInRequired" ||
      code == "IncorrectState" || code == "IncorrectInstanceState" || code == "InvalidIdentityToken" ||
      code == "ExpiredToken" || code == "ExpiredTokenException") {
    return Errc::failed_precondition;
  }
  if (code.ends_with(".NotFound") || code.ends_with(".NotFoundException") || http_status == 404) {
    return Errc::not_found;
  }
  if (code.ends_with(".InUse")) return Errc::failed_precondition;  // e.g. an ENI still attached
  if (code.ends_with(".Duplicate")) return Errc::already_exists;
  if (code.starts_with("InvalidParameter") || code.starts_with("Invalid") || code == "MissingParameter" ||
      code == "IdempotentParameterMismatch" ||
      code == "UnknownParameter" || code == "ValidationError") {
    return Errc::invalid_argument;
  }
  return Errc::internal;
}

std::string describe(const std::string& code, const std::string& message, int http_status) {
  if (code.empty()) return http_status == 0 ? message : message + " (HTTP " + std::to_string(http_status) + ")";
  return code + ": " + message;
}

}  // namespace

Ec2Error::Ec2Error(std::string aws_code, std::string message, int http_status, std::string request_id)
    : Error(errc_for(aws_code, http_status), describe(aws_code, message, http_status)),
      aws_code_(std::move(aws_code)),
      http_status_(http_status),
      request_id_(std::move(request_id)) {}

bool Ec2Error::throttled() const { return is_throttling_code(aws_code_); }

bool Ec2Error::retryable() const {
  return throttled() || http_status_ == 0 || http_status_ >= 500 || http_status_ == 429 || aws_code_ == "InternalError" ||
         aws_code_ == "ServiceUnavailable" || aws_code_ == "Unavailable";
}

}  // namespace vpcri::net::aws

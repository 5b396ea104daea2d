// Ec2Error: which vpcri::Errc each EC2 error code becomes, and which failures are retried.
#include <doctest/doctest.h>

#include "net/aws/ec2_api.h"

using namespace vpcri::net::aws;
using vpcri::Errc;

TEST_CASE("throttling, 5xx and transport failures are unavailable and retryable") {
  for (const char* code : {"RequestLimitExceeded", "Throttling"}) {
    Ec2Error error(code, "slow down", 503);
    CHECK(error.code() == Errc::unavailable);
    CHECK(error.throttled());
    CHECK(error.retryable());
  }
  Ec2Error server("InternalError", "oops", 500);
  CHECK(server.code() == Errc::unavailable);
  CHECK(server.retryable());
  CHECK_FALSE(server.throttled());
  Ec2Error too_many("", "slow down", 429);
  CHECK(too_many.code() == Errc::unavailable);
  CHECK(too_many.retryable());
  Ec2Error transport("", "connection refused", 0);
  CHECK(transport.code() == Errc::unavailable);
  CHECK(transport.retryable());
  CHECK(std::string(transport.what()) == "connection refused");
}

TEST_CASE("capacity errors are resource_exhausted and not retried") {
  for (const char* code : {"InsufficientFreeAddressesInSubnet", "AttachmentLimitExceeded",
                           "PrivateIpAddressLimitExceeded"}) {
    Ec2Error error(code, "full", 400, "req-1");
    CHECK(error.code() == Errc::resource_exhausted);
    CHECK_FALSE(error.retryable());
    CHECK(error.aws_code() == code);
    CHECK(error.request_id() == "req-1");
    CHECK(std::string(error.what()) == std::string(code) + ": full");
  }
}

TEST_CASE("permission, argument and missing-object errors") {
  CHECK(Ec2Error("UnauthorizedOperation", "no", 403).code() == Errc::failed_precondition);
  CHECK(Ec2Error("AuthFailure", "no", 401).code() == Errc::failed_precondition);
  CHECK(Ec2Error("InvalidParameterValue", "bad", 400).code() == Errc::invalid_argument);
  CHECK(Ec2Error("InvalidParameterCombination", "bad", 400).code() == Errc::invalid_argument);
  CHECK(Ec2Error("InvalidNetworkInterfaceID.NotFound", "gone", 400).code() == Errc::not_found);
  CHECK(Ec2Error("InvalidSubnetID.NotFound", "gone", 400).code() == Errc::not_found);
  CHECK(Ec2Error("InvalidAttachmentID.NotFound", "gone", 400).code() == Errc::not_found);
  CHECK(Ec2Error("InvalidNetworkInterface.InUse", "attached", 400).code() == Errc::failed_precondition);
  CHECK_FALSE(Ec2Error("InvalidParameterValue", "bad", 400).retryable());
}

#include "net/aws/instance_types.h"

#include <doctest/doctest.h>

using namespace vpcri::net::aws;

namespace {
int pods(const char* type, bool prefix = false) { return max_pods(*builtin_instance_type(type), prefix); }
}  // namespace

TEST_CASE("the built-in table knows common types and their limits") {
  auto m5 = builtin_instance_type("m5.large");
  REQUIRE(m5);
  CHECK(m5->max_enis == 3);
  CHECK(m5->ips_per_eni == 10);
  CHECK(m5->nitro);
  CHECK_FALSE(builtin_instance_type("t2.micro")->nitro);
  CHECK_FALSE(builtin_instance_type("m5.huge"));
  CHECK_FALSE(builtin_instance_type(""));
  CHECK(builtin_instance_type_names().size() >= 60);
}

TEST_CASE("max pods with secondary IPs matches the AWS VPC CNI's eni-max-pods.txt") {
  CHECK(pods("t3.nano") == 4);
  CHECK(pods("t3.small") == 11);
  CHECK(pods("t3a.small") == 8);
  CHECK(pods("t3.medium") == 17);
  CHECK(pods("t3.large") == 35);
  CHECK(pods("t2.xlarge") == 44);
  CHECK(pods("m5.large") == 29);
  CHECK(pods("m5.xlarge") == 58);
  CHECK(pods("m5.4xlarge") == 234);
  CHECK(pods("m6i.32xlarge") == 737);
  CHECK(pods("c5.9xlarge") == 234);
  CHECK(pods("r5.24xlarge") == 737);
}

TEST_CASE("max pods with prefix delegation: 16 per slot, capped at 110 (<= 30 vCPUs) or 250") {
  CHECK(pods("t3.nano", true) == 2 * 1 * 16 + 2);  // 34: under the cap
  CHECK(pods("t3.small", true) == 110);             // 9 slots * 16 + 2 = 146, 2 vCPUs
  CHECK(pods("m5.large", true) == 110);             // 27 * 16 + 2 = 434
  CHECK(pods("c5.9xlarge", true) == 250);           // 36 vCPUs
  CHECK(pods("m5.8xlarge", true) == 250);           // 32 vCPUs
  CHECK(pods("m5.4xlarge", true) == 110);           // 16 vCPUs
  CHECK(pods("t2.medium", true) == pods("t2.medium"));  // xen: no prefixes
}

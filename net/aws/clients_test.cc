// The factories of clients.h wired together against one loopback server playing IMDS and EC2:
// region from the config, the instance role's credentials from IMDS signing the EC2 call.
#include "net/aws/clients.h"

#include <doctest/doctest.h>

#include <cstdlib>

#include "net/aws/test_http_server.h"

using namespace vpcri::net::aws;
using vpcri::net::aws::test::CannedResponse;
using vpcri::net::aws::test::RecordedRequest;
using vpcri::net::aws::test::TestHttpServer;

TEST_CASE("default endpoints") {
  CHECK(default_endpoint("ec2", "us-west-2") == "https://ec2.us-west-2.amazonaws.com");
  CHECK(default_endpoint("sts", "eu-central-1") == "https://sts.eu-central-1.amazonaws.com");
  CHECK(default_endpoint("ec2", "cn-north-1") == "https://ec2.cn-north-1.amazonaws.com.cn");
}

TEST_CASE("IMDS, credentials chain and EC2 client built by the factories work together") {
  for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
                           "AWS_WEB_IDENTITY_TOKEN_FILE", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                           "ALL_PROXY", "all_proxy"}) {
    ::unsetenv(name);
  }
  TestHttpServer server([](const RecordedRequest& request) {
    CannedResponse response;
    if (request.method == "PUT" && request.target == "/latest/api/token") {
      response.body = "tok";
    } else if (request.target == "/latest/meta-data/iam/security-credentials/") {
      response.body = "node-role";
    } else if (request.target == "/latest/meta-data/iam/security-credentials/node-role") {
      response.body = R"({"Code":"Success","AccessKeyId":"ASIAROLE","SecretAccessKey":"s","Token":"role-token",
                          "Expiration":"2099-01-01T00:00:00Z"})";
    } else if (request.method == "POST" && request.target == "/") {
      response.body = R"(<DeleteNetworkInterfaceResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId><return>true</return></DeleteNetworkInterfaceResponse>)";
    } else {
      response.status = 404;
    }
    return response;
  });
  AwsClientConfig config;
  config.region = "us-west-2";
  config.imds_endpoint = server.url();
  config.ec2_endpoint = server.url();
  config.request_timeout = std::chrono::milliseconds(5000);
  auto imds = make_imds_client(config);
  auto credentials = make_credentials_chain(config, *imds);
  auto ec2 = make_ec2_client(config, config.region, *credentials);
  ec2->delete_network_interface("eni-1");
  auto requests = server.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].method == "PUT");
  const RecordedRequest& call = requests[3];
  CHECK(call.form()["Action"] == "DeleteNetworkInterface");
  CHECK(call.header("authorization").starts_with("AWS4-HMAC-SHA256 Credential=ASIAROLE/"));
  CHECK(call.header("authorization").find("/us-west-2/ec2/aws4_request") != std::string::npos);
  CHECK(call.header("x-amz-security-token") == "role-token");
}

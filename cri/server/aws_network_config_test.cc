#include "cri/server/aws_network_config.h"

#include <doctest/doctest.h>

using namespace vpcri::cri;

TEST_CASE("network.aws keys reach the clients' and the provider's settings") {
  Config c = parse_config(
      "network:\n"
      "  provider: aws\n"
      "  aws:\n"
      "    region: eu-west-1\n"
      "    ec2_endpoint: https://ec2.test\n"
      "    sts_endpoint: https://sts.test\n"
      "    imds_endpoint: http://10.1.1.1:1338\n"
      "    ca_file: /ca.pem\n"
      "    subnets: [subnet-0a, subnet-0b]\n"
      "    security_groups: [sg-1]\n"
      "    cluster_name: c9\n"
      "    prefix_delegation: true\n"
      "    ec2_requests_per_second: 3\n"
      "    ec2_burst: 9\n"
      "    leaked_eni_grace_seconds: 900\n",
      "f");
  auto clients = aws_client_config(c.network.aws);
  CHECK(clients.region == "eu-west-1");
  CHECK(clients.ec2_endpoint == "https://ec2.test");
  CHECK(clients.sts_endpoint == "https://sts.test");
  CHECK(clients.imds_endpoint == "http://10.1.1.1:1338");
  CHECK(clients.ca_file == "/ca.pem");
  CHECK(clients.ec2_requests_per_second == 3);
  CHECK(clients.ec2_burst == 9);
  auto options = aws_provider_options(c.network.aws);
  CHECK(options.subnets == std::vector<std::string>{"subnet-0a", "subnet-0b"});
  CHECK(options.security_groups == std::vector<std::string>{"sg-1"});
  CHECK(options.cluster_name == "c9");
  CHECK(options.prefix_delegation);
  CHECK(options.leaked_eni_grace == std::chrono::seconds(900));

  // Defaults: the clients' own (IMDS at the link-local address, 5 requests/s, burst 20).
  auto defaults = aws_client_config(parse_config("", "f").network.aws);
  CHECK(defaults.imds_endpoint == "http://169.254.169.254");
  CHECK(defaults.ec2_requests_per_second == 5);
  CHECK(defaults.ec2_burst == 20);
  CHECK(aws_provider_options(parse_config("", "f").network.aws).leaked_eni_grace == std::chrono::seconds(300));
}

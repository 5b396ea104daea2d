// ImdsClient against a loopback IMDSv2 lookalike: token PUT first, the token on every GET, a
// new token after a 401 or near the TTL, retries on 5xx and dropped connections, 404 as "none".
#include "net/aws/imds_client.h"

#include <doctest/doctest.h>

#include <map>
#include <set>

#include "common/error.h"
#include "net/aws/aws_time.h"
#include "net/aws/test_http_server.h"

using namespace vpcri::net::aws;
using vpcri::Errc;
using vpcri::net::aws::test::CannedResponse;
using vpcri::net::aws::test::RecordedRequest;
using vpcri::net::aws::test::TestHttpServer;
using namespace std::chrono_literals;

namespace {

constexpr const char* kMac0 = "0e:49:61:0f:c3:11";
constexpr const char* kMac1 = "0e:b2:aa:10:00:07";

CannedResponse answer(int status, std::string body = {}) {
  CannedResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// IMDSv2 as EC2 serves it: tokens from PUT, 401 for a GET without a valid one.
struct FakeImds {
  std::map<std::string, std::string> values;  // path below /latest/meta-data/ → body
  std::set<std::string> valid_tokens;
  int issued = 0;
  std::vector<CannedResponse> injected;  // answered first, one per request, before normal service
  std::string last_ttl;

  CannedResponse operator()(const RecordedRequest& request) {
    if (!injected.empty()) {
      CannedResponse next = injected.front();
      injected.erase(injected.begin());
      return next;
    }
    if (request.method == "PUT" && request.target == "/latest/api/token") {
      last_ttl = request.header("x-aws-ec2-metadata-token-ttl-seconds");
      if (last_ttl.empty()) return answer(400);
      std::string token = "AQAEA-token-" + std::to_string(++issued);
      valid_tokens.insert(token);
      return answer(200, token);
    }
    if (request.method != "GET") return answer(405);
    if (!valid_tokens.count(request.header("x-aws-ec2-metadata-token"))) return answer(401);
    const std::string prefix = "/latest/meta-data/";
    if (!request.target.starts_with(prefix)) return answer(404);
    auto it = values.find(request.target.substr(prefix.size()));
    return it == values.end() ? answer(404) : answer(200, it->second);
  }
};

struct Fixture {
  std::shared_ptr<FakeImds> imds = std::make_shared<FakeImds>();
  TestHttpServer server{[imds = imds](const RecordedRequest& request) { return (*imds)(request); }};
  std::vector<std::chrono::milliseconds> sleeps;
  std::chrono::steady_clock::time_point clock = std::chrono::steady_clock::time_point{} + 1h;
  std::unique_ptr<ImdsClient> client;

  Fixture() {
    TransportOptions transport;
    transport.timeout = 5s;
    transport.use_proxy = false;
    ImdsClientOptions options;
    options.endpoint = server.url() + "/";
    options.token_ttl = 600s;
    options.backoff.sleep = [this](std::chrono::milliseconds d) { sleeps.push_back(d); };
    options.now = [this] { return clock; };
    client = std::make_unique<ImdsClient>(std::make_shared<ClientTransport>(transport), options);
    auto& v = imds->values;
    v["instance-id"] = "i-0123456789abcdef0";
    v["instance-type"] = "m5.large";
    v["placement/availability-zone"] = "us-west-2a";
    v["placement/region"] = "us-west-2";
    v["mac"] = "0E:49:61:0F:C3:11";
    v["network/interfaces/macs/"] = std::string(kMac1) + "/\n" + kMac0 + "/";
    for (const char* mac : {kMac0, kMac1}) {
      std::string base = std::string("network/interfaces/macs/") + mac + "/";
      bool primary = std::string(mac) == kMac0;
      v[base + "device-number"] = primary ? "0" : "1";
      v[base + "interface-id"] = primary ? "eni-0aaa" : "eni-0bbb";
      v[base + "subnet-id"] = "subnet-0a";
      v[base + "subnet-ipv4-cidr-block"] = "10.0.2.0/24";
      v[base + "local-ipv4s"] = primary ? "10.0.2.10\n10.0.2.11\n10.0.2.12" : "10.0.2.40";
      v[base + "vpc-ipv4-cidr-blocks"] = "10.0.0.0/16\n100.64.0.0/16";
      v[base + "security-group-ids"] = "sg-1\nsg-2";
      if (!primary) v[base + "ipv4-prefix"] = "10.0.2.64/28";
    }
  }
};

}  // namespace

TEST_CASE("identity: a token PUT with a TTL first, then every GET carries the token") {
  Fixture fx;
  InstanceIdentity identity = fx.client->identity();
  CHECK(identity.instance_id == "i-0123456789abcdef0");
  CHECK(identity.instance_type == "m5.large");
  CHECK(identity.availability_zone == "us-west-2a");
  CHECK(identity.region == "us-west-2");
  CHECK(identity.primary_mac == kMac0);
  auto requests = fx.server.requests();
  REQUIRE(requests.size() == 6);
  CHECK(requests[0].method == "PUT");
  CHECK(requests[0].target == "/latest/api/token");
  CHECK(fx.imds->last_ttl == "600");
  for (size_t i = 1; i < requests.size(); ++i) {
    CHECK(requests[i].method == "GET");
    CHECK(requests[i].header("x-aws-ec2-metadata-token") == "AQAEA-token-1");
  }
  CHECK(requests[1].target == "/latest/meta-data/instance-id");
}

TEST_CASE("without placement/region the region comes from the zone") {
  Fixture fx;
  fx.imds->values.erase("placement/region");
  CHECK(fx.client->identity().region == "us-west-2");
}

TEST_CASE("enis: every MAC's keys, sorted by device number, a missing ipv4-prefix is none") {
  Fixture fx;
  auto enis = fx.client->enis();
  REQUIRE(enis.size() == 2);
  const MetadataEni& primary = enis[0];
  CHECK(primary.mac == kMac0);
  CHECK(primary.device_number == 0);
  CHECK(primary.interface_id == "eni-0aaa");
  CHECK(primary.subnet_id == "subnet-0a");
  CHECK(primary.subnet_cidr.to_string() == "10.0.2.0/24");
  REQUIRE(primary.local_ipv4s.size() == 3);
  CHECK(primary.local_ipv4s[0].to_string() == "10.0.2.10");
  CHECK(primary.local_ipv4s[2].to_string() == "10.0.2.12");
  CHECK(primary.ipv4_prefixes.empty());
  REQUIRE(primary.vpc_cidrs.size() == 2);
  CHECK(primary.vpc_cidrs[1].to_string() == "100.64.0.0/16");
  CHECK(primary.security_group_ids == std::vector<std::string>{"sg-1", "sg-2"});
  const MetadataEni& secondary = enis[1];
  CHECK(secondary.device_number == 1);
  CHECK(secondary.interface_id == "eni-0bbb");
  REQUIRE(secondary.ipv4_prefixes.size() == 1);
  CHECK(secondary.ipv4_prefixes[0].to_string() == "10.0.2.64/28");
  bool asked_prefix = false;
  for (const auto& request : fx.server.requests()) {
    asked_prefix |= request.target == std::string("/latest/meta-data/network/interfaces/macs/") + kMac0 + "/ipv4-prefix";
  }
  CHECK(asked_prefix);
}

TEST_CASE("an ENI whose keys are not all there yet is skipped, not an error") {
  Fixture fx;
  fx.imds->values.erase(std::string("network/interfaces/macs/") + kMac1 + "/interface-id");
  auto enis = fx.client->enis();
  REQUIRE(enis.size() == 1);
  CHECK(enis[0].interface_id == "eni-0aaa");
}

TEST_CASE("a 401 fetches a new token and repeats the GET") {
  Fixture fx;
  CHECK(fx.client->get_required("instance-id") == "i-0123456789abcdef0");
  fx.imds->valid_tokens.clear();  // IMDS restarted: the cached token is refused
  CHECK(fx.client->get_required("instance-type") == "m5.large");
  auto requests = fx.server.requests();
  REQUIRE(requests.size() == 5);
  CHECK(requests[2].header("x-aws-ec2-metadata-token") == "AQAEA-token-1");  // answered 401
  CHECK(requests[3].method == "PUT");
  CHECK(requests[4].header("x-aws-ec2-metadata-token") == "AQAEA-token-2");
  CHECK(fx.sleeps.empty());
}

TEST_CASE("the token is renewed before its TTL runs out, and reused until then") {
  Fixture fx;
  fx.client->get_required("instance-id");
  fx.clock += 500s;  // TTL 600 s: still used
  fx.client->get_required("instance-id");
  CHECK(fx.imds->issued == 1);
  fx.clock += 50s;  // within the last tenth of the TTL: renewed
  fx.client->get_required("instance-id");
  CHECK(fx.imds->issued == 2);
  CHECK(fx.server.requests().back().header("x-aws-ec2-metadata-token") == "AQAEA-token-2");
}

TEST_CASE("5xx and dropped connections are retried with backoff") {
  Fixture fx;
  CannedResponse hang_up;
  hang_up.hang_up = true;
  fx.imds->injected = {hang_up, answer(503)};  // the token PUT: dropped, then 503, then served
  CHECK(fx.client->get_required("instance-id") == "i-0123456789abcdef0");
  fx.imds->injected = {answer(500)};
  CHECK(fx.client->get_required("instance-type") == "m5.large");
  CHECK(fx.sleeps.size() == 3);
  CHECK(fx.imds->issued == 1);
}

TEST_CASE("a refused token (IMDSv2 off, hop limit) is a clear unavailable error without retries") {
  Fixture fx;
  fx.imds->injected = {answer(403)};
  try {
    fx.client->identity();
    FAIL("no exception");
  } catch (const vpcri::Error& error) {
    CHECK(error.code() == Errc::unavailable);
    CHECK(std::string(error.what()).find("HTTP 403") != std::string::npos);
  }
  CHECK(fx.server.requests().size() == 1);
  CHECK(fx.sleeps.empty());
}

TEST_CASE("retries end; a missing required key is an error, an optional one is nullopt") {
  Fixture fx;
  fx.imds->injected = std::vector<CannedResponse>(10, answer(503));
  CHECK_THROWS_AS(fx.client->get_required("instance-id"), vpcri::Error);
  CHECK(fx.sleeps.size() == 3);
  fx.imds->injected.clear();
  CHECK_FALSE(fx.client->get("nothing/here").has_value());
  CHECK_THROWS_WITH(fx.client->get_required("nothing/here"), doctest::Contains("nothing/here"));
}

TEST_CASE("role credentials: none without a role, the role's JSON with its expiration") {
  Fixture fx;
  CHECK_FALSE(fx.client->role_credentials().has_value());
  fx.imds->values["iam/security-credentials/"] = "node-role";
  fx.imds->values["iam/security-credentials/node-role"] = R"({
  "Code" : "Success",
  "LastUpdated" : "2026-12-06T08:59:00Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAEXAMPLE",
  "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "Token" : "IQoJb3JpZ2luX2VjEXAMPLE",
  "Expiration" : "2026-12-06T15:00:00Z"
})";
  auto credentials = fx.client->role_credentials();
  REQUIRE(credentials.has_value());
  CHECK(credentials->access_key_id == "ASIAEXAMPLE");
  CHECK(credentials->secret_access_key == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  CHECK(credentials->session_token == "IQoJb3JpZ2luX2VjEXAMPLE");
  REQUIRE(credentials->expiration.has_value());
  CHECK(*credentials->expiration == *parse_iso8601_utc("2026-12-06T15:00:00Z"));
  CHECK(amz_date(*credentials->expiration) == "20261206T150000Z");
}

TEST_CASE("imds_lines and parse_iso8601_utc") {
  CHECK(imds_lines("a/\nb/\n\n") == std::vector<std::string>{"a", "b"});
  CHECK(imds_lines("").empty());
  CHECK(amz_date(*parse_iso8601_utc("2026-12-06T15:04:05.123Z")) == "20261206T150405Z");
  CHECK_FALSE(parse_iso8601_utc("2026-12-06 15:04:05").has_value());
  CHECK_FALSE(parse_iso8601_utc("2026-13-06T15:04:05Z").has_value());
}

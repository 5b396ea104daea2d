// CredentialsChain: the order of the sources, STS AssumeRoleWithWebIdentity against a loopback
// server answering STS-shaped XML, the instance role, caching and refresh before expiry.
#include "net/aws/credentials_chain.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <map>
#include <thread>

#include "common/error.h"
#include "net/aws/aws_time.h"
#include "net/aws/botocore_runner.h"
#include "net/aws/test_http_server.h"

using namespace vpcri::net::aws;
using vpcri::Errc;
using vpcri::net::aws::test::CannedResponse;
using vpcri::net::aws::test::RecordedRequest;
using vpcri::net::aws::test::TestHttpServer;
using namespace std::chrono_literals;

namespace {

// The instance role as IMDS would give it; counts the lookups.
class RoleMetadata : public InstanceMetadata {
 public:
  InstanceIdentity identity() override { return {}; }
  std::vector<MetadataEni> enis() override { return {}; }
  std::optional<Credentials> role_credentials() override {
    ++calls;
    if (fail) throw vpcri::Error(Errc::unavailable, "IMDS down");
    if (answers.empty()) return std::nullopt;
    Credentials next = answers.front();
    if (answers.size() > 1) answers.pop_front();
    return next;
  }
  std::deque<Credentials> answers;
  std::atomic<int> calls{0};
  bool fail = false;
};

std::string sts_ok(const std::string& key, const std::string& expiration) {
  return R"(<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:kube-system:aws-node</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/vpcri-node/s1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:s1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>)" + expiration + R"(</Expiration>
      <AccessKeyId>)" + key + R"(</AccessKeyId>
    </Credentials>
    <Provider>arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>)";
}

CannedResponse answer(int status, std::string body) {
  CannedResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

CannedResponse sts_error(int status, const std::string& code) {
  return answer(status, R"(<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>)" + code + R"(</Code><Message>the reason</Message></Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>)");
}

struct Fixture {
  std::map<std::string, std::string> environment;
  RoleMetadata imds;
  std::deque<CannedResponse> sts_answers;
  std::mutex sts_mutex;
  TestHttpServer sts{[this](const RecordedRequest&) {
    std::lock_guard lock(sts_mutex);
    CannedResponse next = sts_answers.front();
    if (sts_answers.size() > 1) sts_answers.pop_front();
    return next;
  }};
  std::chrono::system_clock::time_point clock = *parse_iso8601_utc("2026-12-06T09:00:00Z");
  std::vector<std::chrono::milliseconds> sleeps;
  std::string token_path;
  std::unique_ptr<CredentialsChain> chain;

  Fixture() {
    char path[] = "/tmp/vpcri-web-identity-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    token_path = path;
    std::ofstream(token_path) << "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhd3Mtbm9kZSJ9.c2lnbmF0dXJl\n";
    TransportOptions transport;
    transport.timeout = 5s;
    transport.use_proxy = false;
    StsClientOptions sts_options;
    sts_options.endpoint = sts.url();
    sts_options.max_retries = 2;
    sts_options.backoff.sleep = [this](std::chrono::milliseconds d) { sleeps.push_back(d); };
    CredentialsChainOptions options;
    options.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = environment.find(name);
      if (it == environment.end()) return std::nullopt;
      return it->second;
    };
    options.now = [this] { return clock; };
    chain = std::make_unique<CredentialsChain>(
        std::make_unique<StsClient>(std::make_shared<ClientTransport>(transport), sts_options), imds, options);
  }
  ~Fixture() { std::remove(token_path.c_str()); }
  void use_web_identity() {
    environment["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/vpcri-node";
    environment["AWS_WEB_IDENTITY_TOKEN_FILE"] = token_path;
  }
};

Credentials role(const std::string& key, const std::string& expiration) {
  return {key, "secret-" + key, "token-" + key, parse_iso8601_utc(expiration)};
}

}  // namespace

TEST_CASE("the environment comes first and needs no network") {
  Fixture fx;
  fx.environment = {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", "envsecret"}, {"AWS_SESSION_TOKEN", "envtoken"}};
  fx.use_web_identity();
  fx.imds.answers = {role("ASIAROLE", "2026-12-06T15:00:00Z")};
  Credentials credentials = fx.chain->get();
  CHECK(credentials.access_key_id == "AKIDENV");
  CHECK(credentials.secret_access_key == "envsecret");
  CHECK(credentials.session_token == "envtoken");
  CHECK_FALSE(credentials.expiration.has_value());
  CHECK(fx.chain->source() == "environment");
  CHECK(fx.sts.requests().empty());
  CHECK(fx.imds.calls == 0);
}

TEST_CASE("web identity: an unsigned AssumeRoleWithWebIdentity with the token file's content") {
  Fixture fx;
  fx.use_web_identity();
  fx.environment["AWS_ROLE_SESSION_NAME"] = "node-a";
  fx.sts_answers = {answer(200, sts_ok("ASIAWEB", "2026-12-06T10:00:00Z"))};
  Credentials credentials = fx.chain->get();
  CHECK(credentials.access_key_id == "ASIAWEB");
  CHECK(credentials.secret_access_key == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
  CHECK(credentials.session_token == "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE");
  CHECK(credentials.expiration == parse_iso8601_utc("2026-12-06T10:00:00Z"));
  CHECK(fx.chain->source() == "web identity");
  auto requests = fx.sts.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].header("content-type") == "application/x-www-form-urlencoded; charset=utf-8");
  CHECK(requests[0].header("authorization").empty());
  CHECK(requests[0].form() == std::map<std::string, std::string>{
                                  {"Action", "AssumeRoleWithWebIdentity"},
                                  {"Version", "2011-06-15"},
                                  {"RoleArn", "arn:aws:iam::123456789012:role/vpcri-node"},
                                  {"RoleSessionName", "node-a"},
                                  {"WebIdentityToken", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhd3Mtbm9kZSJ9.c2lnbmF0dXJl"}});
  CHECK(fx.imds.calls == 0);
}

TEST_CASE("web identity: a session name is made up when none is given; throttling is retried") {
  Fixture fx;
  fx.use_web_identity();
  fx.sts_answers = {sts_error(400, "Throttling"), answer(200, sts_ok("ASIAWEB", "2026-12-06T10:00:00Z"))};
  CHECK(fx.chain->get().access_key_id == "ASIAWEB");
  auto requests = fx.sts.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].form()["RoleSessionName"].starts_with("vpcri-"));
  CHECK(fx.sleeps.size() == 1);
}

TEST_CASE("web identity: STS refusing the token is a clear error, not a silent fall back to the node role") {
  Fixture fx;
  fx.use_web_identity();
  fx.imds.answers = {role("ASIAROLE", "2026-12-06T15:00:00Z")};
  fx.sts_answers = {sts_error(400, "InvalidIdentityToken")};
  try {
    fx.chain->get();
    FAIL("no exception");
  } catch (const vpcri::Error& error) {
    CHECK(error.code() == Errc::unavailable);
    CHECK(std::string(error.what()).find("InvalidIdentityToken: STS AssumeRoleWithWebIdentity: the reason") !=
          std::string::npos);
  }
  CHECK(fx.sts.requests().size() == 1);
  CHECK(fx.imds.calls == 0);
}

TEST_CASE("web identity: an unreadable token file is reported") {
  Fixture fx;
  fx.use_web_identity();
  fx.environment["AWS_WEB_IDENTITY_TOKEN_FILE"] = "/nonexistent/token";
  CHECK_THROWS_WITH(fx.chain->get(), doctest::Contains("/nonexistent/token"));
}

TEST_CASE("the instance role: cached, then fetched again within 5 minutes of its expiration") {
  Fixture fx;
  fx.imds.answers = {role("ASIA1", "2026-12-06T10:00:00Z"), role("ASIA2", "2026-12-06T16:00:00Z")};
  CHECK(fx.chain->get().access_key_id == "ASIA1");
  CHECK(fx.chain->source() == "instance role");
  fx.clock += 50min;  // 10 minutes left: cached
  CHECK(fx.chain->get().access_key_id == "ASIA1");
  CHECK(fx.imds.calls == 1);
  fx.clock += 6min;  // 4 minutes left: refreshed
  CHECK(fx.chain->get().access_key_id == "ASIA2");
  CHECK(fx.imds.calls == 2);
}

TEST_CASE("a failed refresh keeps the current credentials until they expire") {
  Fixture fx;
  fx.imds.answers = {role("ASIA1", "2026-12-06T10:00:00Z")};
  CHECK(fx.chain->get().access_key_id == "ASIA1");
  fx.imds.fail = true;
  fx.clock += 57min;
  CHECK(fx.chain->get().access_key_id == "ASIA1");
  fx.clock += 5min;  // expired
  CHECK_THROWS_AS(fx.chain->get(), vpcri::Error);
}

TEST_CASE("no source at all is unavailable, naming each") {
  Fixture fx;
  try {
    fx.chain->get();
    FAIL("no exception");
  } catch (const vpcri::Error& error) {
    CHECK(error.code() == Errc::unavailable);
    CHECK(std::string(error.what()).find("AWS_ACCESS_KEY_ID") != std::string::npos);
    CHECK(std::string(error.what()).find("AWS_ROLE_ARN") != std::string::npos);
    CHECK(std::string(error.what()).find("IAM role") != std::string::npos);
  }
}

TEST_CASE("concurrent callers share one fetch") {
  Fixture fx;
  fx.imds.answers = {role("ASIA1", "2026-12-06T15:00:00Z")};
  std::vector<std::thread> threads;
  std::atomic<int> matched{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 50; ++j) matched += fx.chain->get().access_key_id == "ASIA1";
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(matched == 400);
  CHECK(fx.imds.calls == 1);
}

TEST_CASE("botocore's STS serializer and parser agree with our AssumeRoleWithWebIdentity request and answer") {
  Fixture fx;
  fx.use_web_identity();
  fx.environment["AWS_ROLE_SESSION_NAME"] = "node a/1";
  std::string body = sts_ok("ASIAWEB", "2026-12-06T10:00:00Z");
  fx.sts_answers = {answer(200, body)};
  Credentials ours = fx.chain->get();
  constexpr const char* kScript = R"PY(
import json, sys
import botocore.session
from botocore import parsers, serialize
spec = json.load(open(sys.argv[1]))
model = botocore.session.get_session().get_service_model("sts")
operation = model.operation_model("AssumeRoleWithWebIdentity")
request = serialize.create_serializer("query").serialize_to_request(spec["params"], operation)
parsed = parsers.create_parser("query").parse({"body": spec["body"].encode(), "headers": {}, "status_code": 200},
                                              operation.output_shape)
print(json.dumps({"form": {k: str(v) for k, v in request["body"].items()},
                  "credentials": parsed["Credentials"]}, default=str))
)PY";
  nlohmann::json theirs = vpcri::net::aws::test::run_botocore(
      kScript, {{"params",
                 {{"RoleArn", "arn:aws:iam::123456789012:role/vpcri-node"},
                  {"RoleSessionName", "node a/1"},
                  {"WebIdentityToken", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhd3Mtbm9kZSJ9.c2lnbmF0dXJl"}}},
                {"body", body}});
  CHECK(fx.sts.requests().at(0).form() == theirs["form"].get<std::map<std::string, std::string>>());
  CHECK(theirs["credentials"]["AccessKeyId"] == ours.access_key_id);
  CHECK(theirs["credentials"]["SecretAccessKey"] == ours.secret_access_key);
  CHECK(theirs["credentials"]["SessionToken"] == ours.session_token);
  CHECK(theirs["credentials"]["Expiration"].get<std::string>().starts_with("2026-12-06 10:00:00"));
}

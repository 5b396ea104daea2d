// SigV4 against AWS's published test suite (aws-sig-v4-test-suite: credentials AKIDEXAMPLE,
// 2015-08-30T12:36:00Z, us-east-1, service "service") and against botocore's SigV4Auth, an
// independent implementation, on the requests our clients actually send.
#include "net/aws/sigv4.h"

#include <doctest/doctest.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "net/aws/botocore_runner.h"
#include "net/aws/test_http_server.h"

using namespace vpcri::net::aws;
using vpcri::net::aws::test::make_request;

namespace {

const Credentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", std::nullopt};
const SigV4Scope kSuiteScope{"us-east-1", "service"};
constexpr const char* kSuiteDate = "20150830T123600Z";
constexpr const char* kSuiteCredentialScope = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";

HttpRequest suite_request(std::string method, std::string path_and_query,
                          std::vector<std::pair<std::string, std::string>> extra_headers = {}, std::string body = {}) {
  HttpRequest request;
  request.method = std::move(method);
  request.url = "https://example.amazonaws.com" + path_and_query;
  request.headers = std::move(extra_headers);
  request.headers.emplace_back("Host", "example.amazonaws.com");
  request.headers.emplace_back("X-Amz-Date", kSuiteDate);
  request.body = std::move(body);
  return request;
}


std::string suite_authorization(const std::string& signed_headers, const std::string& signature) {
  return std::string("AWS4-HMAC-SHA256 Credential=") + kSuiteCredentialScope + ", SignedHeaders=" + signed_headers +
         ", Signature=" + signature;
}

std::chrono::system_clock::time_point utc(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// botocore.auth.SigV4Auth.add_auth on the same request (headers before signing), its clock fixed.
constexpr const char* kBotocoreScript = R"PY(
import datetime, json, sys
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
spec = json.load(open(sys.argv[1]))
class FixedClock(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return cls.strptime(spec["amz_date"], "%Y%m%dT%H%M%SZ")
class Shim: pass
shim = Shim(); shim.datetime = FixedClock
botocore.auth.datetime = shim  # older botocore: datetime.datetime.utcnow()
botocore.auth.get_current_datetime = FixedClock.utcnow  # newer botocore
request = AWSRequest(method=spec["method"], url=spec["url"], data=spec["body"].encode(), headers=spec["headers"])
creds = Credentials(spec["key"], spec["secret"], spec["token"] or None)
botocore.auth.SigV4Auth(creds, spec["service"], spec["region"]).add_auth(request)
print(json.dumps(request.headers["Authorization"]))
)PY";

std::string botocore_authorization(const HttpRequest& unsigned_request, const Credentials& credentials,
                                   const SigV4Scope& scope, const std::string& date) {
  nlohmann::json spec = {{"method", unsigned_request.method}, {"url", unsigned_request.url},
                         {"body", unsigned_request.body},     {"headers", nlohmann::json::object()},
                         {"key", credentials.access_key_id},  {"secret", credentials.secret_access_key},
                         {"token", credentials.session_token}, {"region", scope.region},
                         {"service", scope.service},           {"amz_date", date}};
  for (const auto& [name, value] : unsigned_request.headers) spec["headers"][name] = value;
  return vpcri::net::aws::test::run_botocore(kBotocoreScript, spec).get<std::string>();
}

}  // namespace

TEST_CASE("aws-sig-v4-test-suite: get-vanilla") {
  SigV4Signature signature = sigv4_signature(suite_request("GET", "/"), kSuiteCredentials, kSuiteScope);
  CHECK(signature.canonical_request ==
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(signature.authorization ==
        suite_authorization("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

TEST_CASE("aws-sig-v4-test-suite: post-vanilla and post-vanilla-query") {
  CHECK(sigv4_signature(suite_request("POST", "/"), kSuiteCredentials, kSuiteScope).authorization ==
        suite_authorization("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"));
  SigV4Signature query = sigv4_signature(suite_request("POST", "/?Param1=value1"), kSuiteCredentials, kSuiteScope);
  CHECK(query.canonical_request ==
        "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(query.string_to_sign ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd");
  CHECK(query.authorization ==
        suite_authorization("host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"));
}

TEST_CASE("aws-sig-v4-test-suite: get-vanilla-query-order-key-case (parameters sorted)") {
  SigV4Signature signature =
      sigv4_signature(suite_request("GET", "/?Param2=value2&Param1=value1"), kSuiteCredentials, kSuiteScope);
  CHECK(signature.canonical_request.find("\nParam1=value1&Param2=value2\n") != std::string::npos);
  CHECK(signature.authorization ==
        suite_authorization("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
}

TEST_CASE("aws-sig-v4-test-suite: post-x-www-form-urlencoded") {
  HttpRequest request = suite_request("POST", "/", {{"Content-Type", "application/x-www-form-urlencoded"}},
                                      "Param1=value1");
  SigV4Signature signature = sigv4_signature(request, kSuiteCredentials, kSuiteScope);
  CHECK(signature.canonical_request ==
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  CHECK(signature.string_to_sign ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
  CHECK(signature.authorization == suite_authorization("content-type;host;x-amz-date",
                                                       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"));
}

TEST_CASE("aws-sig-v4-test-suite: header values trimmed and inner spaces collapsed") {
  HttpRequest request = suite_request("GET", "/", {{"My-Header1", "  value1  "}, {"My-Header2", " \"a   b   c\""}});
  SigV4Signature signature = sigv4_signature(request, kSuiteCredentials, kSuiteScope);
  CHECK(signature.canonical_request.find("my-header1:value1\nmy-header2:\"a b c\"\n") != std::string::npos);
  CHECK(signature.signed_headers == "host;my-header1;my-header2;x-amz-date");
  CHECK(signature.authorization ==
        suite_authorization("host;my-header1;my-header2;x-amz-date",
                            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"));
}

TEST_CASE("sign_request adds Host, X-Amz-Date and the session token, and signs them") {
  HttpRequest request = make_request("POST", "https://ec2.eu-west-1.amazonaws.com/", "Action=DescribeSubnets",
                                     {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}});
  Credentials session{"ASIAEXAMPLE", "secret", "token/with+chars=", std::nullopt};
  sign_request(request, session, {"eu-west-1", "ec2"}, utc(2026, 12, 6, 9, 30, 0));
  std::map<std::string, std::string> headers(request.headers.begin(), request.headers.end());
  CHECK(headers["Host"] == "ec2.eu-west-1.amazonaws.com");
  CHECK(headers["X-Amz-Date"] == "20261206T093000Z");
  CHECK(headers["X-Amz-Security-Token"] == "token/with+chars=");
  CHECK(headers["Authorization"].starts_with(
      "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261206/eu-west-1/ec2/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="));
}

TEST_CASE("botocore's SigV4Auth computes the same Authorization for our EC2 and STS requests") {
  struct Case {
    HttpRequest request;
    Credentials credentials;
    SigV4Scope scope;
  };
  std::vector<Case> cases = {
      {make_request("POST", "https://ec2.us-west-2.amazonaws.com/",
                    "Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=tag%3Acluster&Filter.1.Value.1=c%201",
                    {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}}),
       {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", std::nullopt},
       {"us-west-2", "ec2"}},
      {make_request("POST", "http://127.0.0.1:8123/",
                    "Action=AssignPrivateIpAddresses&NetworkInterfaceId=eni-1&SecondaryPrivateIpAddressCount=3&Version=2016-11-15",
                    {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}}),
       {"ASIAEXAMPLE", "s3cr3t/+=", "FwoGZXIvYXdzEJr//////////wEaDH+session/token==", std::nullopt},
       {"eu-central-1", "ec2"}},
      {make_request("GET", "https://sts.us-east-1.amazonaws.com/?Version=2011-06-15&Action=GetCallerIdentity"),
       {"AKIDEXAMPLE", "secret", "", std::nullopt},
       {"us-east-1", "sts"}},
  };
  auto now = utc(2026, 12, 6, 9, 41, 7);
  for (const auto& c : cases) {
    CAPTURE(c.request.url);
    std::string expected = botocore_authorization(c.request, c.credentials, c.scope, amz_date(now));
    REQUIRE(expected.starts_with("AWS4-HMAC-SHA256 "));
    HttpRequest ours = c.request;
    sign_request(ours, c.credentials, c.scope, now);
    std::string authorization;
    for (const auto& [name, value] : ours.headers) {
      if (name == "Authorization") authorization = value;
    }
    CHECK(authorization == expected);
  }
}

TEST_CASE("aws_uri_encode keeps only unreserved characters") {
  CHECK(aws_uri_encode("a-b_c.d~e") == "a-b_c.d~e");
  CHECK(aws_uri_encode("tag:k8s/x y+z=") == "tag%3Ak8s%2Fx%20y%2Bz%3D");
  CHECK(aws_uri_encode("/a b/", true) == "/a%20b/");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

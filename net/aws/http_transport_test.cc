// ClientTransport against a loopback server: what goes on the wire, what comes back, and transport
// failures as Ec2Error with http_status 0.
#include "net/aws/http_transport.h"

#include <doctest/doctest.h>

#include <thread>

#include "net/aws/ec2_api.h"
#include "net/aws/test_http_server.h"

using namespace vpcri::net::aws;
using vpcri::net::aws::test::make_request;
using vpcri::net::aws::test::CannedResponse;
using vpcri::net::aws::test::RecordedRequest;
using vpcri::net::aws::test::TestHttpServer;

namespace {

TransportOptions loopback(size_t max_body_bytes = 32 << 20) {
  TransportOptions options;
  options.timeout = std::chrono::milliseconds(5000);
  options.use_proxy = false;
  options.max_body_bytes = max_body_bytes;
  return options;
}


CannedResponse answer(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  CannedResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

}  // namespace


TEST_CASE("a POST carries method, path, headers and body; the answer's status, headers and body come back") {
  TestHttpServer server([](const RecordedRequest&) {
    return answer(201, "<ok/>", {{"X-Amzn-RequestId", "r-1"}});
  });
  ClientTransport transport(loopback());
  HttpResponse response = transport.send(make_request("POST", server.url() + "/path?q=1", "hello",
                                                      {{"Content-Type", "text/plain"}, {"X-Custom", "v"}}));
  CHECK(response.status == 201);
  CHECK(response.body == "<ok/>");
  CHECK(response.header("x-amzn-requestid") == "r-1");
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == "/path?q=1");
  CHECK(requests[0].header("content-type") == "text/plain");
  CHECK(requests[0].header("x-custom") == "v");
  CHECK(requests[0].header("expect").empty());
  CHECK(requests[0].body == "hello");
}

TEST_CASE("PUT sends its body; error statuses are answers, not exceptions") {
  TestHttpServer server([](const RecordedRequest& request) {
    return answer(request.method == "PUT" ? 404 : 500, "nope");
  });
  ClientTransport transport(loopback());
  HttpResponse put = transport.send(make_request("PUT", server.url() + "/latest/api/token"));
  CHECK(put.status == 404);
  HttpResponse get = transport.send(make_request("GET", server.url() + "/x"));
  CHECK(get.status == 500);
  CHECK(get.body == "nope");
  CHECK(server.requests().at(0).method == "PUT");
  CHECK(server.requests().at(1).method == "GET");
}

TEST_CASE("no answer is an Ec2Error with http_status 0") {
  TestHttpServer server([](const RecordedRequest&) {
    CannedResponse response;
    response.hang_up = true;
    return response;
  });
  ClientTransport transport(loopback());
  try {
    transport.send(make_request("GET", server.url() + "/"));
    FAIL("no exception");
  } catch (const Ec2Error& error) {
    CHECK(error.http_status() == 0);
    CHECK(error.retryable());
    CHECK(std::string(error.what()).find("127.0.0.1") != std::string::npos);
  }
}

TEST_CASE("an answer larger than the cap is a transport failure") {
  TestHttpServer server([](const RecordedRequest&) { return answer(200, std::string(4096, 'x')); });
  ClientTransport transport(loopback(1024));
  CHECK_THROWS_AS(transport.send(make_request("GET", server.url() + "/")), Ec2Error);
}

TEST_CASE("url parts") {
  CHECK(url_authority("https://ec2.us-east-1.amazonaws.com/") == "ec2.us-east-1.amazonaws.com");
  CHECK(url_authority("http://127.0.0.1:8080/x?y") == "127.0.0.1:8080");
  CHECK(url_path_and_query("https://h") == "/");
  CHECK(url_path_and_query("https://h?a=b") == "/?a=b");
  CHECK(url_path_and_query("http://h:1/a/b?c=d#f") == "/a/b?c=d");
}

TEST_CASE("a server slower than the timeout is a transport failure") {
  TestHttpServer server([](const RecordedRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return answer(200, "late");
  });
  TransportOptions options = loopback();
  options.timeout = std::chrono::milliseconds(200);
  ClientTransport transport(options);
  try {
    transport.send(make_request("GET", server.url() + "/"));
    FAIL("no exception");
  } catch (const Ec2Error& error) {
    CHECK(error.http_status() == 0);
    CHECK(std::string(error.what()).find("imed out") != std::string::npos);
  }
}

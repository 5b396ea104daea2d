// http::Client redirects against loopback servers (client_test_support.h): which are followed,
// what becomes of method, body and credentials, limits.
#include "common/http/client.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/http/client_test_support.h"
#include "common/http/test_server.h"

using namespace vpcri::http;
using namespace vpcri::http::test;
using namespace std::chrono_literals;

// ---- redirects ----

namespace {

// /r/<code> answers <code> to /final; /final says what it received.
LoopbackServer::Handler redirecting(const std::string& cross_origin = "") {
  return keep_alive([cross_origin](Connection& c, const ReceivedRequest& r) {
    const std::string& t = r.target;
    if (t.rfind("/r/", 0) == 0) {
      c.respond(std::stoi(t.substr(3)), "REDIRECT-BODY", "Location: /final\r\n");
    } else if (t == "/final" || t == "/final?x=1&y=2" || t == "/dir/sub/next") {
      c.respond(200, "final " + r.method + " [" + r.body + "] " + t, "X-Which: final\r\n");
    } else if (t == "/big-redirect") {
      std::string body(200000, 'R');  // too long to drain: the connection is dropped
      c.send("HTTP/1.1 302 Found\r\nLocation: /final\r\nTransfer-Encoding: chunked\r\n\r\n" + hex(body.size()) +
             "\r\n" + body + "\r\n0\r\n\r\n");
    } else if (t == "/dir/page") {
      c.respond(302, "REDIRECT-BODY", "Location: sub/next\r\n");
    } else if (t == "/query") {
      c.respond(301, "REDIRECT-BODY", "Location: /final?x=1&y=2\r\n");
    } else if (t == "/elsewhere") {
      c.respond(302, "REDIRECT-BODY", "Location: " + cross_origin + "/final\r\n");
    } else if (t.rfind("/loop/", 0) == 0) {
      c.respond(302, "REDIRECT-BODY", "Location: /loop/" + std::to_string(std::stoi(t.substr(6)) + 1) + "\r\n");
    } else if (t.rfind("/chain/", 0) == 0) {
      int n = std::stoi(t.substr(7));
      if (n == 0) {
        c.respond(200, "end of chain");
      } else {
        c.respond(307, "REDIRECT-BODY", "Location: /chain/" + std::to_string(n - 1) + "\r\n");
      }
    } else if (t == "/not-modified") {
      c.send("HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n\r\n");
    } else if (t == "/choices") {
      c.respond(300, "pick one");
    } else if (t == "/auth-same") {
      c.respond(302, "REDIRECT-BODY", "Location: /auth-final\r\n");
    } else if (t == "/auth-cross") {
      c.respond(302, "REDIRECT-BODY", "Location: " + cross_origin + "/auth-final\r\n");
    } else if (t == "/auth-final") {
      c.respond(200, "auth=[" + r.header("authorization") + "] custom=[" + r.header("x-custom") + "]");
    } else {
      c.respond(404, "no " + t);
    }
  });
}

}  // namespace

namespace {

// `method` with a body to /r/<code>, which redirects to /final: checks that /final got the same
// method and body.
void check_method_kept(int code, const std::string& method) {
  ProxyEnv env;
  LoopbackServer server(redirecting());
  Client client;
  CAPTURE(code);
  CAPTURE(method);
  auto request = make(server.url("/r/" + std::to_string(code)), method, "payload");
  request.max_redirects = 5;
  auto g = fetch(client, request);
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.head.status == 200);
  CHECK(g.result.head.header("x-which") == "final");
  CHECK(g.result.head.header("location") == "");
  CHECK(g.body == "final " + method + " [payload] /final");
  auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].target == "/final");
  CHECK(seen[1].method == method);
  CHECK(seen[1].body == "payload");
  CHECK(seen[1].header("content-length") == "7");
}

}  // namespace

TEST_CASE("redirects: 307 and 308 are followed with the same method and body") {
  for (int code : {307, 308}) {
    for (const char* method : {"POST", "PUT", "DELETE"}) check_method_kept(code, method);
  }
}

TEST_CASE("redirects: 301 and 302 keep other methods than POST, with their body (PUT, DELETE)") {
  for (int code : {301, 302}) {
    for (const char* method : {"PUT", "DELETE"}) check_method_kept(code, method);
  }
}

TEST_CASE("redirects: 301 and 302 turn a POST into a GET without a body (as curl and browsers)") {
  ProxyEnv env;
  LoopbackServer server(redirecting());
  Client client;
  for (int code : {301, 302}) {
    CAPTURE(code);
    auto request = make(server.url("/r/" + std::to_string(code)), "POST", "payload");
    request.max_redirects = 1;
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.result.head.status == 200);
    CHECK(g.body == "final GET [] /final");
    auto seen = server.requests();
    REQUIRE(seen.size() >= 2);
    CHECK(seen[seen.size() - 2].method == "POST");
    CHECK(seen.back().method == "GET");
    CHECK(seen.back().body.empty());
    CHECK(seen.back().count("transfer-encoding") == 0);
    std::string cl = seen.back().header("content-length");
    CHECK((cl.empty() || cl == "0"));
  }
}

TEST_CASE("redirects: 301, 302, 307 and 308 keep GET and HEAD") {
  ProxyEnv env;
  LoopbackServer server(redirecting());
  Client client;
  for (int code : {301, 302, 307, 308}) {
    CAPTURE(code);
    auto request = make(server.url("/r/" + std::to_string(code)));
    request.max_redirects = 1;
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == "final GET [] /final");
    request.method = "HEAD";
    g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.result.head.status == 200);
    CHECK(g.body.empty());
    CHECK(server.requests().back().method == "HEAD");
    CHECK(server.requests().back().target == "/final");
  }
}

TEST_CASE("redirects: 303 turns PUT and DELETE into GET, and keeps HEAD") {
  ProxyEnv env;
  LoopbackServer server(redirecting());
  Client client;
  for (std::string method : {"PUT", "DELETE", "HEAD"}) {
    CAPTURE(method);
    auto request = make(server.url("/r/303"), method, method == "HEAD" ? "" : "payload");
    request.max_redirects = 1;
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.result.head.status == 200);
    auto seen = server.requests();
    REQUIRE(seen.size() >= 2);
    CHECK(seen.back().target == "/final");
    CHECK(seen.back().method == (method == "HEAD" ? "HEAD" : "GET"));
    CHECK(seen.back().body.empty());
    if (method == "HEAD") {
      CHECK(g.body.empty());
    } else {
      CHECK(g.body == "final GET [] /final");
    }
  }
}

TEST_CASE("redirects: 303 turns into a GET without a body") {
  ProxyEnv env;
  LoopbackServer server(redirecting());
  Client client;
  auto request = make(server.url("/r/303"), "POST", "payload");
  request.max_redirects = 1;
  auto g = fetch(client, request);
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.head.status == 200);
  CHECK(g.body == "final GET [] /final");
  auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].method == "POST");
  CHECK(seen[1].method == "GET");
  CHECK(seen[1].body.empty());
  CHECK(seen[1].count("transfer-encoding") == 0);
  std::string cl = seen[1].header("content-length");
  CHECK((cl.empty() || cl == "0"));
}

TEST_CASE("redirects: the redirect's own body is never given to the handler") {
  ProxyEnv env;
  LoopbackServer server(redirecting());
  Client client;
  for (std::string path : {"/r/302", "/big-redirect"}) {
    CAPTURE(path);
    auto request = make(server.url(path));
    request.max_redirects = 3;
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.result.head.status == 200);
    CHECK(g.body == "final GET [] /final");
  }
}

TEST_CASE("redirects: relative and absolute Locations") {
  ProxyEnv env;
  LoopbackServer other(keep_alive([](Connection& c, const ReceivedRequest& r) {
    c.respond(200, "other " + r.target + " host=" + r.header("host"));
  }));
  LoopbackServer server(redirecting("http://" + other.authority()));
  Client client;
  SUBCASE("a path relative to the request's") {
    auto request = make(server.url("/dir/page"));
    request.max_redirects = 1;
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == "final GET [] /dir/sub/next");
  }
  SUBCASE("an absolute path with a query") {
    auto request = make(server.url("/query"));
    request.max_redirects = 1;
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == "final GET [] /final?x=1&y=2");
  }
  SUBCASE("an absolute URL to another server") {
    auto request = make(server.url("/elsewhere"));
    request.max_redirects = 1;
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.result.head.status == 200);
    CHECK(g.body == "other /final host=" + other.authority());
    CHECK(other.accepts() == 1);
  }
}

TEST_CASE("redirects: Authorization is kept for the same origin and dropped for another") {
  ProxyEnv env;
  auto auth_final = keep_alive([](Connection& c, const ReceivedRequest& r) {
    c.respond(200, "auth=[" + r.header("authorization") + "] custom=[" + r.header("x-custom") + "]");
  });
  auto request_for = [](const std::string& url, const std::string& name = "Authorization") {
    auto request = make(url);
    request.max_redirects = 2;
    request.headers = {{name, "Bearer secret"}, {"X-Custom", "c"}};
    return request;
  };
  Client client;
  SUBCASE("same origin") {
    LoopbackServer server(redirecting());
    auto g = fetch(client, request_for(server.url("/auth-same")));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == "auth=[Bearer secret] custom=[c]");
  }
  SUBCASE("another port on the same host") {
    LoopbackServer other(auth_final);
    LoopbackServer server(redirecting("http://" + other.authority()));
    auto g = fetch(client, request_for(server.url("/auth-cross")));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body.rfind("auth=[]", 0) == 0);
    auto seen = other.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].count("authorization") == 0);
  }
  SUBCASE("another host") {
    if (!ipv6_loopback_available()) {
      MESSAGE("no IPv6 loopback here: skipped");
      return;
    }
    LoopbackServer other(auth_final, ipv6_options());
    LoopbackServer server(redirecting("http://" + other.authority()));
    auto g = fetch(client, request_for(server.url("/auth-cross"), "authorization"));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body.rfind("auth=[]", 0) == 0);
    auto seen = other.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].count("authorization") == 0);
    CHECK(seen[0].header("host") == other.authority());
  }
}

TEST_CASE("redirects: dot segments in a relative Location are resolved") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest& r) {
    if (r.target == "/a/b/page") {
      c.respond(302, "", "Location: ../other?x=1\r\n");
    } else {
      c.respond(200, "at " + r.target);
    }
  }));
  Client client;
  auto request = make(server.url("/a/b/page"));
  request.max_redirects = 1;
  auto g = fetch(client, request);
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "at /a/other?x=1");
}

TEST_CASE("redirects: a caller's Host header is not sent to another origin") {
  ProxyEnv env;
  LoopbackServer other(keep_alive([](Connection& c, const ReceivedRequest& r) {
    c.respond(200, "host=" + r.header("host"));
  }));
  LoopbackServer server(redirecting("http://" + other.authority()));
  Client client;
  auto request = make(server.url("/elsewhere"));
  request.max_redirects = 1;
  request.headers = {{"Host", server.authority()}};
  auto g = fetch(client, request);
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "host=" + other.authority());
}

TEST_CASE("redirects: max_redirects = 0 returns the 3xx itself") {
  ProxyEnv env;
  LoopbackServer server(redirecting());
  Client client;
  auto g = fetch(client, make(server.url("/r/302")));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.head.status == 302);
  CHECK(g.result.head.header("location") == "/final");
  CHECK(server.requests().size() == 1);
}

TEST_CASE("redirects: up to max_redirects are followed; one more is a failure") {
  ProxyEnv env;
  LoopbackServer server(redirecting());
  Client client;
  SUBCASE("exactly max_redirects") {
    auto request = make(server.url("/chain/3"));
    request.max_redirects = 3;
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.result.head.status == 200);
    CHECK(g.body == "end of chain");
    CHECK(server.requests().size() == 4);
  }
  SUBCASE("one too many") {
    auto request = make(server.url("/chain/3"));
    request.max_redirects = 2;
    auto g = fetch(client, request);
    CHECK(g.result.failed());
    CHECK(g.body.empty());
    CHECK(server.requests().size() == 3);
  }
  SUBCASE("a loop") {
    auto request = make(server.url("/loop/0"));
    request.max_redirects = 3;
    auto g = fetch(client, request);
    CHECK(g.result.failed());
    CHECK(g.body.empty());
    CHECK(server.requests().size() == 4);
  }
}

TEST_CASE("redirects: a 3xx without a Location is the answer") {
  ProxyEnv env;
  LoopbackServer server(redirecting());
  Client client;
  auto request = make(server.url("/not-modified"));
  request.max_redirects = 5;
  auto g = fetch(client, request);
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.head.status == 304);
  CHECK(g.result.head.header("etag") == "\"e\"");
  CHECK(g.body.empty());
  request.url = server.url("/choices");
  g = fetch(client, request);
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.head.status == 300);
  CHECK(g.body == "pick one");
}

// http::Client against scriptable HTTP(S) servers on loopback (test_server.h): what goes on the
// wire, how answers of every framing are read, connection reuse, redirects, timeouts, transport
// failures and TLS verification. Proxies: proxy_test.cc.
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

// ---- url_authority ----

TEST_CASE("url_authority: host[:port] of a URL") {
  CHECK(url_authority("http://example.com/x/y?z") == "example.com");
  CHECK(url_authority("https://registry.example.com:5000/v2/") == "registry.example.com:5000");
  CHECK(url_authority("https://user@host.test:8443/p") == "host.test:8443");
  CHECK(url_authority("http://user:pw@host.test/p") == "host.test");
  CHECK(url_authority("http://[::1]:8080/") == "[::1]:8080");
  CHECK(url_authority("http://127.0.0.1:1234") == "127.0.0.1:1234");
  CHECK(url_authority("http://example.com?q=1") == "example.com");
}

// ---- requests and answers ----

TEST_CASE("GET: a Content-Length body, status and headers") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest&) {
    c.respond(200, "hello world", "Content-Type: text/plain\r\n");
  }));
  Client client;
  auto g = fetch(client, server.url("/hello?x=1&y=%20"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.os_errno == 0);
  CHECK(g.result.head.status == 200);
  CHECK(g.body == "hello world");
  CHECK(g.result.head.header("content-type") == "text/plain");
  CHECK(g.result.head.header("content-length") == "11");
  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].target == "/hello?x=1&y=%20");
  CHECK(seen[0].version == "HTTP/1.1");
  CHECK(seen[0].body.empty());
  CHECK(seen[0].count("transfer-encoding") == 0);
}

TEST_CASE("GET: a URL without a path asks for /") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest& r) { c.respond(200, r.target); }));
  Client client;
  auto g = fetch(client, "http://127.0.0.1:" + std::to_string(server.port()));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "/");
}

TEST_CASE("GET: 4xx and 5xx answers are answers, not failures") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest& r) {
    c.respond(r.target == "/missing" ? 404 : 500, "error body " + r.target);
  }));
  Client client;
  auto g = fetch(client, server.url("/missing"));
  CHECK_FALSE(g.result.failed());
  CHECK(g.result.head.status == 404);
  CHECK(g.body == "error body /missing");
  g = fetch(client, server.url("/broken"));
  CHECK_FALSE(g.result.failed());
  CHECK(g.result.head.status == 500);
  CHECK(g.body == "error body /broken");
}

TEST_CASE("GET: bodies larger than 8 MiB arrive whole and in order (Content-Length, chunked, EOF)") {
  ProxyEnv env;
  std::string big = pattern(10 << 20, 3);
  LoopbackServer server([&](Connection& c) {
    while (auto r = c.read_request()) {
      if (r->target == "/content-length") {
        c.respond(200, big);
      } else if (r->target == "/chunked") {
        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (size_t at = 0; at < big.size(); at += 1 << 20) {
          size_t n = std::min<size_t>(1 << 20, big.size() - at);
          c.send(hex(n) + "\r\n" + big.substr(at, n) + "\r\n");
        }
        c.send("0\r\n\r\n");
      } else {
        c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big);
        return;
      }
    }
  });
  Client client;
  for (std::string path : {"/content-length", "/chunked", "/eof"}) {
    CAPTURE(path);
    auto g = fetch(client, server.url(path));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body.size() == big.size());
    CHECK(compare_bytes(g.body, big) == "same");
  }
}

TEST_CASE("GET: a chunked body is handed over piece by piece as it arrives") {
  ProxyEnv env;
  std::atomic<bool> first_seen{false};
  std::atomic<bool> rest_sent{false};
  std::string big = pattern(100000, 1);
  LoopbackServer server([&](Connection& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n5\r\nhello\r\n");
    // The rest only once the client has handed "hello" over (or after 2 s: the test fails then).
    for (int i = 0; i < 200 && !first_seen; ++i) c.pause(10ms);
    rest_sent = true;
    c.send("6;name=value\r\n world\r\n");
    c.send(hex(big.size()) + "\r\n" + big + "\r\n");
    c.send("1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n");
    c.wait_peer_close(2s);
  });
  Client client;
  std::string body;
  int chunks = 0;
  bool rest_was_sent_at_first_chunk = true;
  int status_in_handler = 0;
  auto result = client.perform(make(server.url("/chunked")), [&](const Head& head, std::string_view chunk) {
    if (chunks++ == 0) {
      rest_was_sent_at_first_chunk = rest_sent.load();
      first_seen = true;
    }
    status_in_handler = head.status;
    body += chunk;
  });
  INFO(result.error);
  REQUIRE_FALSE(result.failed());
  CHECK(result.head.status == 200);
  CHECK(result.head.header("x-kind") == "chunked");
  CHECK(status_in_handler == 200);
  CHECK(compare_bytes(body, "hello world" + big + "!") == "same");
  CHECK(chunks >= 2);
  CHECK_FALSE(rest_was_sent_at_first_chunk);  // streamed, not buffered until the end
}

TEST_CASE("HEAD: status and headers, no body even with a Content-Length, and the connection stays usable") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest& r) {
    if (r.method == "HEAD") {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nX-Head: yes\r\n\r\n");
    } else {
      c.respond(200, "after head");
    }
  }));
  Client client;
  auto request = make(server.url("/blob"), "HEAD");
  request.stall_timeout = 2000ms;
  auto g = fetch(client, request);
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.head.status == 200);
  CHECK(g.result.head.header("content-length") == "1234");
  CHECK(g.result.head.header("x-head") == "yes");
  CHECK(g.body.empty());
  CHECK(g.ms < 1000);  // did not wait for 1234 bytes that never come
  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "HEAD");

  g = fetch(client, server.url("/next"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "after head");
  CHECK(server.accepts() == 1);
}

TEST_CASE("POST, PUT and DELETE send their method and body with Content-Length") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest& r) {
    c.respond(201, r.method + " " + std::to_string(r.body.size()));
  }));
  Client client;
  SUBCASE("POST form") {
    auto g = fetch(client, make(server.url("/form"), "POST", "a=1&b=2"));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.result.head.status == 201);
    CHECK(g.body == "POST 7");
    auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "POST");
    CHECK(seen[0].body == "a=1&b=2");
    CHECK(seen[0].header("content-length") == "7");
    CHECK(seen[0].count("transfer-encoding") == 0);
  }
  SUBCASE("PUT a large binary body") {
    std::string blob = pattern(3 << 20, 9);
    blob[5] = '\0';
    auto g = fetch(client, make(server.url("/blob"), "PUT", blob));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == "PUT " + std::to_string(blob.size()));
    auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "PUT");
    CHECK(seen[0].header("content-length") == std::to_string(blob.size()));
    CHECK(compare_bytes(seen[0].body, blob) == "same");
  }
  SUBCASE("POST with an empty body says Content-Length: 0") {
    auto g = fetch(client, make(server.url("/empty"), "POST"));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "POST");
    CHECK(seen[0].header("content-length") == "0");
  }
  SUBCASE("DELETE") {
    auto g = fetch(client, make(server.url("/thing"), "DELETE"));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == "DELETE 0");
    auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "DELETE");
    CHECK(seen[0].target == "/thing");
  }
}

TEST_CASE("GET and HEAD send no body, even when Request::body is set") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest& r) {
    c.respond(200, r.method + " [" + r.body + "]");
  }));
  Client client;
  for (std::string method : {"GET", "HEAD", "GET"}) {
    CAPTURE(method);
    auto request = make(server.url("/"), method, "not for a GET");
    request.total_timeout = 1000ms;
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.result.head.status == 200);
    auto seen = server.requests();
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.back().method == method);
    CHECK(seen.back().body.empty());
    std::string cl = seen.back().header("content-length");
    CHECK((cl.empty() || cl == "0"));  // no length announced for bytes that are not sent
  }
  CHECK(server.requests().size() == 3);
}

TEST_CASE("Host header: host and non-default port, IPv4, IPv6 and a name") {
  ProxyEnv env;
  Client client;
  SUBCASE("127.0.0.1") {
    LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest&) { c.respond(200, "v4"); }));
    auto g = fetch(client, server.url("/"));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].header("host") == "127.0.0.1:" + std::to_string(server.port()));
    CHECK(seen[0].count("host") == 1);
  }
  SUBCASE("[::1]") {
    if (!ipv6_loopback_available()) {
      MESSAGE("no IPv6 loopback here: skipped");
      return;
    }
    LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest&) { c.respond(200, "v6"); }),
                          ipv6_options());
    auto g = fetch(client, "http://[::1]:" + std::to_string(server.port()) + "/six");
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == "v6");
    auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].header("host") == "[::1]:" + std::to_string(server.port()));
    CHECK(seen[0].target == "/six");
  }
  SUBCASE("localhost (resolved)") {
    LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest&) { c.respond(200, "name"); }));
    auto g = fetch(client, "http://localhost:" + std::to_string(server.port()) + "/");
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == "name");
    auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].header("host") == "localhost:" + std::to_string(server.port()));
  }
}

TEST_CASE("request headers are sent as given; User-Agent from the options") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest&) { c.respond(200, "ok"); }));
  SUBCASE("custom headers") {
    Client client;
    auto request = make(server.url("/h"));
    request.headers = {{"X-Custom", "Value 1"},
                       {"X-Multi", "a"},
                       {"X-Multi", "b"},
                       {"Accept", "application/vnd.oci.image.manifest.v1+json"},
                       {"Authorization", "Bearer tok"}};
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    const auto& r = seen[0];
    CHECK(r.header("x-custom") == "Value 1");
    CHECK(r.header("accept") == "application/vnd.oci.image.manifest.v1+json");
    CHECK(r.header("authorization") == "Bearer tok");
    auto [from, to] = r.headers.equal_range("x-multi");
    std::vector<std::string> multi;
    for (auto it = from; it != to; ++it) multi.push_back(it->second);
    CHECK(multi == std::vector<std::string>{"a", "b"});
    // In the order given.
    CHECK(r.count("host") == 1);
    REQUIRE(header_index(r, "x-custom") >= 0);
    CHECK(header_index(r, "x-custom") < header_index(r, "x-multi"));
    CHECK(header_index(r, "x-multi") < header_index(r, "accept"));
    CHECK(header_index(r, "accept") < header_index(r, "authorization"));
    CHECK(r.head.find("X-Custom: Value 1\r\n") != std::string::npos);  // the name's case as given
    CHECK(r.header("user-agent") == "vpcri");  // the default
  }
  SUBCASE("a Host among them replaces the client's") {
    Client client;
    auto request = make(server.url("/h"));
    request.headers = {{"host", "registry.example.com"}, {"X-After", "1"}};
    auto g = fetch(client, request);
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].count("host") == 1);
    CHECK(seen[0].header("host") == "registry.example.com");
    CHECK(seen[0].header("x-after") == "1");
  }
  SUBCASE("user_agent option") {
    ClientOptions options;
    options.user_agent = "vpcri-test/9.9";
    Client client(options);
    auto g = fetch(client, server.url("/ua"));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    auto seen = server.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].header("user-agent") == "vpcri-test/9.9");
    CHECK(seen[0].count("user-agent") == 1);
  }
}

TEST_CASE("answer headers: names lower-cased, repeated names kept in order, values trimmed") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest&) {
    c.send(
        "HTTP/1.1 200 OK\r\n"
        "Content-Length: 2\r\n"
        "X-Dup: one\r\n"
        "x-DUP: two\r\n"
        "X-Dup:three\r\n"
        "WWW-Authenticate: Bearer realm=\"https://auth.test/token\",service=\"reg\"\r\n"
        "X-Spaces:    padded value   \r\n"
        "Docker-Content-Digest: sha256:abc\r\n"
        "\r\n"
        "ok");
  }));
  Client client;
  auto g = fetch(client, server.url("/"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  const auto& head = g.result.head;
  CHECK(g.body == "ok");
  CHECK(head.headers.count("x-dup") == 3);
  std::vector<std::string> dup;
  auto [from, to] = head.headers.equal_range("x-dup");
  for (auto it = from; it != to; ++it) dup.push_back(it->second);
  CHECK(dup == std::vector<std::string>{"one", "two", "three"});
  CHECK(head.header("x-dup") == "one");
  CHECK(head.header("www-authenticate") == "Bearer realm=\"https://auth.test/token\",service=\"reg\"");
  CHECK(head.header("x-spaces") == "padded value");
  CHECK(head.header("docker-content-digest") == "sha256:abc");
  CHECK(head.header("absent") == "");
  for (const auto& [name, value] : head.headers) {
    CAPTURE(name);
    CHECK(name == vpcri::to_lower(name));
  }
}

TEST_CASE("1xx interim answers are skipped") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest&) {
    c.send(
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nhello");
  }));
  Client client;
  for (std::string method : {"GET", "POST"}) {
    CAPTURE(method);
    auto g = fetch(client, make(server.url("/"), method, method == "POST" ? "data" : ""));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.result.head.status == 200);
    CHECK(g.result.head.header("x-final") == "yes");
    CHECK(g.body == "hello");
  }
}

TEST_CASE("a body delimited by the end of the connection") {
  ProxyEnv env;
  std::string big = pattern(300000, 5);
  LoopbackServer server([&](Connection& c) {
    auto r = c.read_request();
    if (!r) return;
    if (r->target == "/http10") {
      c.send("HTTP/1.0 200 OK\r\nX-Old: 1\r\n\r\nold school");
    } else {
      c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
      c.send(big);
    }
    c.close();
  });
  Client client;
  auto g = fetch(client, server.url("/eof"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.head.status == 200);
  CHECK(g.body.size() == big.size());
  CHECK(compare_bytes(g.body, big) == "same");

  g = fetch(client, server.url("/http10"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "old school");
  CHECK(server.accepts() == 2);  // a closed connection is not reused
}

// ---- connections ----

TEST_CASE("keep-alive: sequential requests to one server share one TCP connection") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest& r) {
    c.respond(200, r.target + " on " + std::to_string(c.index()));
  }));
  Client client;
  for (int i = 0; i < 3; ++i) {
    std::string path = "/req" + std::to_string(i);
    auto g = fetch(client, i == 1 ? make(server.url(path), "POST", "x") : make(server.url(path)));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == path + " on 1");
  }
  CHECK(server.accepts() == 1);
}

TEST_CASE("keep-alive: max_idle_connections = 0 keeps no connection") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest&) { c.respond(200, "x"); }));
  ClientOptions options;
  options.max_idle_connections = 0;
  Client client(options);
  for (int i = 0; i < 2; ++i) {
    auto g = fetch(client, server.url("/"));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
  }
  CHECK(server.accepts() == 2);
}

TEST_CASE("keep-alive: an idle connection the server closed is replaced transparently") {
  ProxyEnv env;
  // One answer per connection, without "Connection: close": the client pools the connection,
  // then the server closes it while it is idle.
  LoopbackServer server([](Connection& c) {
    if (c.read_request()) c.respond(200, "conn " + std::to_string(c.index()));
  });
  Client client;
  SUBCASE("GET") {
    for (int i = 1; i <= 3; ++i) {
      auto g = fetch(client, server.url("/"));
      INFO(g.result.error);
      REQUIRE_FALSE(g.result.failed());
      CHECK(g.body == "conn " + std::to_string(i));
      REQUIRE(server.wait_closed_connections(i));
    }
    CHECK(server.accepts() == 3);
  }
  SUBCASE("POST") {
    for (int i = 1; i <= 2; ++i) {
      auto g = fetch(client, make(server.url("/"), "POST", "payload"));
      INFO(g.result.error);
      REQUIRE_FALSE(g.result.failed());
      CHECK(g.body == "conn " + std::to_string(i));
      REQUIRE(server.wait_closed_connections(i));
    }
    auto seen = server.requests();
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].body == "payload");
  }
}

TEST_CASE("keep-alive: a pooled connection the server closes as the next request arrives is replaced") {
  ProxyEnv env;
  // The first connection answers one request, then closes on the second without answering (an
  // idle timeout racing the request); later connections answer everything.
  LoopbackServer server([](Connection& c) {
    int n = 0;
    while (auto r = c.read_request()) {
      if (c.index() == 1 && ++n == 2) return;
      c.respond(200, "conn " + std::to_string(c.index()) + " " + r->target);
    }
  });
  Client client;
  auto g = fetch(client, server.url("/first"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "conn 1 /first");
  g = fetch(client, server.url("/second"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "conn 2 /second");
  CHECK(server.accepts() == 2);
}

TEST_CASE("concurrent requests from several threads each get a connection of their own") {
  ProxyEnv env;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  auto handler = keep_alive([&](Connection& c, const ReceivedRequest& r) {
    int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    c.pause(30ms);
    --in_flight;
    c.respond(200, "echo " + r.target);
  });
  bool tls = false;
  SUBCASE("http") {}
  SUBCASE("https") { tls = true; }
  auto& pki = shared_pki();
  LoopbackServer server(handler, tls ? tls_options(pki.ip) : LoopbackServer::Options{});
  Client client(client_options(pki.pki.ca_file()));
  constexpr int kThreads = 4, kRequests = 5;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i);
        auto g = fetch(client, server.url(path));
        if (!g.result.failed() && g.body == "echo " + path) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(good == kThreads * kRequests);
  CHECK(max_in_flight >= 2);  // not serialized behind one connection
  CHECK(server.accepts() <= kThreads * kRequests);
}

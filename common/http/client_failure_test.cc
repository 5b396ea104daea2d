// http::Client failures (refused, timeouts, answers cut short, handler exceptions), buffered
// answers and TLS verification, against loopback servers (client_test_support.h).
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

// ---- transport failures ----

TEST_CASE("failure: connection refused") {
  ProxyEnv env;
  Client client;
  auto g = fetch(client, "http://127.0.0.1:" + std::to_string(closed_port()) + "/");
  CHECK(g.result.failed());
  CHECK(g.result.os_errno == ECONNREFUSED);
  CHECK(g.result.error.find("Connection refused") != std::string::npos);
  CHECK(g.result.head.status == 0);
  CHECK(g.result.head.headers.empty());
  CHECK(g.ms < 1000);
}

namespace {

// A listener whose accept queue is full: a new connect to it never completes (the SYN is dropped).
struct BlackholeListener {
  int listener = -1;
  std::vector<int> fillers;
  int port = 0;
  bool ready = false;
  BlackholeListener() {
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener, 0) != 0) return;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    for (int i = 0; i < 8 && !ready; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      fillers.push_back(fd);
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      pollfd p{fd, POLLOUT, 0};
      ready = ::poll(&p, 1, 100) == 0;  // this one hangs: the queue is full
    }
  }
  ~BlackholeListener() {
    for (int fd : fillers) ::close(fd);
    if (listener >= 0) ::close(listener);
  }
};

}  // namespace

TEST_CASE("failure: connect_timeout bounds a connect that never completes") {
  ProxyEnv env;
  BlackholeListener blackhole;
  if (!blackhole.ready) {
    MESSAGE("cannot make a connect hang on this kernel; skipped");
    return;
  }
  Client client;
  auto request = make("http://127.0.0.1:" + std::to_string(blackhole.port) + "/");
  request.connect_timeout = 300ms;
  request.total_timeout = 3000ms;
  auto g = fetch(client, request);
  CHECK(g.result.failed());
  CHECK(g.ms >= 250);
  CHECK(g.ms < 1500);
}

TEST_CASE("failure: stall_timeout when the server goes silent") {
  ProxyEnv env;
  LoopbackServer server([](Connection& c) {
    auto r = c.read_request();
    if (!r) return;
    if (r->target == "/after-headers") {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Sent: yes\r\n\r\n0123456789");
    }
    c.wait_peer_close(3s);  // silent
  });
  Client client;
  for (std::string path : {"/after-headers", "/before-headers"}) {
    CAPTURE(path);
    auto request = make(server.url(path));
    request.stall_timeout = 300ms;
    request.total_timeout = 3000ms;
    auto g = fetch(client, request);
    CHECK(g.result.failed());
    CHECK_FALSE(g.result.error.empty());
    CHECK(g.ms >= 250);
    CHECK(g.ms < 1500);
    // The header that did arrive is kept; status 0 when none did.
    if (path == "/after-headers") {
      CHECK(g.result.head.status == 200);
      CHECK(g.result.head.header("x-sent") == "yes");
      CHECK(g.body == "0123456789");
    } else {
      CHECK(g.result.head.status == 0);
    }
  }
}

TEST_CASE("stall_timeout: a slow answer that keeps moving is not a stall") {
  ProxyEnv env;
  LoopbackServer server([](Connection& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n");
    for (char ch : std::string("abcdef")) {
      if (!c.pause(100ms) || !c.send(std::string(1, ch))) return;
    }
    c.wait_peer_close(2s);
  });
  Client client;
  auto request = make(server.url("/slow"));
  request.stall_timeout = 300ms;
  auto g = fetch(client, request);
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "abcdef");
  CHECK(g.ms >= 500);
}

TEST_CASE("failure: total_timeout bounds the whole request") {
  ProxyEnv env;
  LoopbackServer server([](Connection& c) {
    auto r = c.read_request();
    if (!r) return;
    if (r->target == "/trickle") {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
      while (c.pause(50ms) && c.send("x")) {
      }
    } else {
      c.wait_peer_close(3s);
    }
  });
  Client client;
  for (std::string path : {"/trickle", "/silent"}) {
    CAPTURE(path);
    auto request = make(server.url(path));
    request.total_timeout = 400ms;
    request.stall_timeout = 0ms;
    auto g = fetch(client, request);
    CHECK(g.result.failed());
    CHECK_FALSE(g.result.error.empty());
    CHECK(g.ms >= 350);
    CHECK(g.ms < 1500);
  }
}

TEST_CASE("failure: total_timeout bounds a body that keeps coming faster than it is consumed") {
  ProxyEnv env;
  LoopbackServer server([](Connection& c) {
    if (!c.read_request()) return;
    // 1 GiB announced, sent as fast as the client takes it.
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n");
    std::string block(1 << 16, 'z');
    while (c.send(block)) {
    }
  });
  Client client;
  auto request = make(server.url("/endless"));
  request.total_timeout = 300ms;
  size_t received = 0;
  struct Overran {};
  bool overran = false;
  Result result;
  auto start = std::chrono::steady_clock::now();
  try {
    result = client.perform(request, [&](const Head&, std::string_view chunk) {
      received += chunk.size();
      std::this_thread::sleep_for(2ms);  // a consumer slower than loopback: bytes are always waiting
      if (elapsed_ms(start) > 1500) {
        overran = true;  // the test gives up here rather than read the whole GiB
        throw Overran{};
      }
    });
  } catch (const Overran&) {
  }
  long ms = elapsed_ms(start);
  INFO("received " << received << " bytes in " << ms << " ms; error: " << result.error);
  REQUIRE_FALSE(overran);  // still reading 1.5 s into a request with a 300 ms total_timeout
  CHECK(result.failed());
  CHECK(ms < 1500);
}

TEST_CASE("failure: total_timeout covers redirects") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest& r) {
    c.pause(150ms);
    c.respond(302, "", "Location: /again" + r.target + "\r\n");
  }));
  Client client;
  auto request = make(server.url("/x"));
  request.max_redirects = 50;
  request.total_timeout = 400ms;
  auto g = fetch(client, request);
  CHECK(g.result.failed());
  CHECK(g.ms < 1000);
  CHECK(server.requests().size() <= 4);
}

TEST_CASE("failure: an answer cut short is not a truncated success") {
  ProxyEnv env;
  LoopbackServer server([](Connection& c) {
    auto r = c.read_request();
    if (!r) return;
    if (r->target == "/content-length") {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    } else if (r->target == "/mid-chunk") {
      c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n0123456789");
    } else if (r->target == "/no-last-chunk") {
      c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n");
    } else if (r->target == "/mid-headers") {
      c.send("HTTP/1.1 200 OK\r\nContent-Len");
    } else if (r->target == "/garbage") {
      c.send("this is not HTTP at all\r\n\r\n");
    }
    // "/hang-up": nothing at all
    c.pause(20ms);
    c.close();
  });
  Client client;
  for (std::string path : {"/content-length", "/mid-chunk", "/no-last-chunk", "/mid-headers", "/garbage", "/hang-up"}) {
    CAPTURE(path);
    auto g = fetch(client, server.url(path));
    CHECK(g.result.failed());
    CHECK_FALSE(g.result.error.empty());
    // The header that did arrive is kept; status 0 when none did.
    bool header_arrived = path == "/content-length" || path == "/mid-chunk" || path == "/no-last-chunk";
    CHECK(g.result.head.status == (header_arrived ? 200 : 0));
  }
}

TEST_CASE("an exception from the BodyHandler propagates, and the next request works on a new connection") {
  ProxyEnv env;
  std::string big = pattern(200000);
  LoopbackServer server(keep_alive([&](Connection& c, const ReceivedRequest&) { c.respond(200, big); }));
  Client client;
  int calls = 0;
  CHECK_THROWS_WITH_AS(client.perform(make(server.url("/")),
                                      [&](const Head&, std::string_view) {
                                        ++calls;
                                        throw std::runtime_error("handler says stop");
                                      }),
                       "handler says stop", std::runtime_error);
  CHECK(calls == 1);
  auto g = fetch(client, server.url("/again"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(compare_bytes(g.body, big) == "same");
  CHECK(server.accepts() == 2);  // the interrupted connection was closed, not reused
}

// ---- perform_buffered ----

TEST_CASE("perform_buffered: the body in memory, up to max_body_bytes") {
  ProxyEnv env;
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest& r) {
    if (r.target == "/chunked") {
      std::string part(600, 'c');
      c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + hex(part.size()) + "\r\n" + part + "\r\n" +
             hex(part.size()) + "\r\n" + part + "\r\n0\r\n\r\n");
    } else {
      c.respond(200, std::string(1000, 'b'), "X-Buffered: 1\r\n");
    }
  }));
  Client client;
  SUBCASE("under and at the limit") {
    for (size_t limit : {size_t{1 << 20}, size_t{1000}}) {
      CAPTURE(limit);
      auto answer = client.perform_buffered(make(server.url("/")), limit);
      INFO(answer.result.error);
      REQUIRE_FALSE(answer.result.failed());
      CHECK(answer.result.head.status == 200);
      CHECK(answer.result.head.header("x-buffered") == "1");
      CHECK(answer.body == std::string(1000, 'b'));
    }
  }
  SUBCASE("over the limit") {
    auto answer = client.perform_buffered(make(server.url("/")), 999);
    CHECK(answer.result.failed());
    answer = client.perform_buffered(make(server.url("/chunked")), 1000);
    CHECK(answer.result.failed());
    // The client is still fine.
    answer = client.perform_buffered(make(server.url("/")), 1000);
    INFO(answer.result.error);
    CHECK_FALSE(answer.result.failed());
    CHECK(answer.body.size() == 1000);
  }
}

// ---- TLS ----

TEST_CASE("TLS: a server whose certificate the ca_file vouches for") {
  ProxyEnv env;
  auto& pki = shared_pki();
  LoopbackServer server(keep_alive([](Connection& c, const ReceivedRequest& r) {
    c.respond(200, "secure " + r.target + " tls=" + (c.tls() ? "yes" : "no"));
  }),
                        tls_options(pki.ip));
  Client client(client_options(pki.pki.ca_file()));
  auto g = fetch(client, server.url("/one"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.head.status == 200);
  CHECK(g.body == "secure /one tls=yes");
  g = fetch(client, make(server.url("/two"), "POST", pattern(500000)));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "secure /two tls=yes");
  CHECK(server.accepts() == 1);  // kept alive over TLS too
  auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  CHECK(compare_bytes(seen[1].body, pattern(500000)) == "same");
  CHECK(seen[0].header("host") == server.authority());
}

TEST_CASE("TLS: IPv6 literal and a host name checked against the certificate") {
  ProxyEnv env;
  auto& pki = shared_pki();
  auto handler = keep_alive([](Connection& c, const ReceivedRequest&) { c.respond(200, "ok"); });
  Client client(client_options(pki.pki.ca_file()));
  SUBCASE("[::1] against IP:::1") {
    if (!ipv6_loopback_available()) {
      MESSAGE("no IPv6 loopback here: skipped");
      return;
    }
    LoopbackServer server(handler, tls_options(pki.ip, true));
    auto g = fetch(client, server.url("/"));
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == "ok");
  }
  SUBCASE("localhost against DNS:localhost") {
    LoopbackServer server(handler, tls_options(pki.localhost));
    auto g = fetch(client, "https://localhost:" + std::to_string(server.port()) + "/");
    INFO(g.result.error);
    REQUIRE_FALSE(g.result.failed());
    CHECK(g.body == "ok");
  }
  SUBCASE("localhost against a certificate for other.test / 127.0.0.2") {
    LoopbackServer server(handler, tls_options(pki.other));
    auto g = fetch(client, "https://localhost:" + std::to_string(server.port()) + "/");
    CHECK(g.result.failed());
    CHECK(server.requests().empty());
  }
  SUBCASE("127.0.0.1 against a certificate for DNS:localhost only") {
    LoopbackServer server(handler, tls_options(pki.localhost));
    auto g = fetch(client, server.url("/"));
    CHECK(g.result.failed());
    CHECK(server.requests().empty());
  }
}

TEST_CASE("TLS: verification failures") {
  ProxyEnv env;
  auto& pki = shared_pki();
  auto handler = keep_alive([](Connection& c, const ReceivedRequest&) { c.respond(200, "should not be read"); });
  SUBCASE("without the ca_file, the system's CAs do not know the test CA") {
    LoopbackServer server(handler, tls_options(pki.ip));
    Client client;
    auto g = fetch(client, server.url("/"));
    CHECK(g.result.failed());
    CHECK(g.body.empty());
    CHECK((contains_ci(g.result.error, "certificate") || contains_ci(g.result.error, "verif")));
    CHECK(server.requests().empty());
  }
  SUBCASE("a certificate for another address and name") {
    LoopbackServer server(handler, tls_options(pki.other));
    Client client(client_options(pki.pki.ca_file()));
    auto g = fetch(client, server.url("/"));
    CHECK(g.result.failed());
    CHECK(g.body.empty());
    CHECK(server.requests().empty());
  }
  SUBCASE("a self-signed certificate") {
    LoopbackServer server(handler, tls_options(pki.selfsigned));
    Client client(client_options(pki.pki.ca_file()));
    auto g = fetch(client, server.url("/"));
    CHECK(g.result.failed());
    CHECK((contains_ci(g.result.error, "certificate") || contains_ci(g.result.error, "verif")));
    CHECK(server.requests().empty());
  }
}

TEST_CASE("TLS: a server that never finishes the handshake, or does not speak TLS") {
  ProxyEnv env;
  auto& pki = shared_pki();
  LoopbackServer server([](Connection& c) {
    char buf[1024];
    if (c.read_some(buf, sizeof buf, 2s) <= 0) return;  // the ClientHello
    if (c.index() == 1) {
      c.wait_peer_close(3s);  // never answers
    } else {
      c.send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
  });
  Client client(client_options(pki.pki.ca_file()));
  auto request = make("https://" + server.authority() + "/");
  request.connect_timeout = 300ms;
  request.total_timeout = 3000ms;
  auto g = fetch(client, request);
  CHECK(g.result.failed());
  CHECK(g.ms >= 250);
  CHECK(g.ms < 1500);
  g = fetch(client, request);
  CHECK(g.result.failed());
  CHECK(g.ms < 1000);
}

TEST_CASE("TLS: an EOF-delimited body ends at close_notify; a cut-short body fails") {
  ProxyEnv env;
  auto& pki = shared_pki();
  LoopbackServer server([](Connection& c) {
    auto r = c.read_request();
    if (!r) return;
    if (r->target == "/eof") {
      c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
    } else {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
    }
    c.close();
  },
                        tls_options(pki.ip));
  Client client(client_options(pki.pki.ca_file()));
  auto g = fetch(client, server.url("/eof"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "until the end");
  g = fetch(client, server.url("/short"));
  CHECK(g.result.failed());
}

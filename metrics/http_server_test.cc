#include "metrics/http_server.h"

#include <doctest/doctest.h>

#include <atomic>

#include "common/error.h"
#include "common/fd.h"
#include "metrics/http_client.h"

using namespace vpcri;
using namespace vpcri::metrics;

namespace {

HttpResponse hello(const HttpRequest& request) {
  if (request.path == "/hello") return {200, "text/plain", "hi " + request.query + "\n"};
  if (request.path == "/boom") throw std::runtime_error("handler broke");
  return {404, "text/plain", "no such page\n"};
}

std::string address_of(const HttpServer& server) { return "127.0.0.1:" + std::to_string(server.port()); }

int status_of(const std::string& raw) { return raw.size() >= 12 ? std::stoi(raw.substr(9, 3)) : 0; }

}  // namespace

TEST_CASE("GET answers with the handler's body, length and content type; the query is split off") {
  HttpServer server("test", "127.0.0.1:0", hello);
  REQUIRE(server.port() != 0);
  HttpAnswer a = http_get(address_of(server), "/hello?who=me");
  CHECK(a.status == 200);
  CHECK(a.body == "hi who=me\n");
  CHECK(a.head.find("Content-Length: 10\r\n") != std::string::npos);
  CHECK(a.head.find("Content-Type: text/plain\r\n") != std::string::npos);
  CHECK(a.head.find("Connection: close") != std::string::npos);
}

TEST_CASE("HEAD gets the headers only") {
  HttpServer server("test", "127.0.0.1:0", hello);
  std::string raw = http_exchange(address_of(server), "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(status_of(raw) == 200);
  CHECK(raw.find("Content-Length: 4\r\n") != std::string::npos);
  CHECK(raw.ends_with("\r\n\r\n"));
}

TEST_CASE("an unknown path is the handler's 404; a throwing handler is a 500 and the server goes on") {
  HttpServer server("test", "127.0.0.1:0", hello);
  CHECK(http_get(address_of(server), "/nope").status == 404);
  HttpAnswer boom = http_get(address_of(server), "/boom");
  CHECK(boom.status == 500);
  CHECK(boom.body.find("handler broke") != std::string::npos);
  CHECK(http_get(address_of(server), "/hello").status == 200);
}

TEST_CASE("bad requests: other methods 405 with Allow, malformed lines and versions 400") {
  HttpServer server("test", "127.0.0.1:0", hello);
  std::string addr = address_of(server);
  std::string post = http_exchange(addr, "POST /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  CHECK(status_of(post) == 405);
  CHECK(post.find("Allow: GET, HEAD\r\n") != std::string::npos);
  CHECK(status_of(http_exchange(addr, "GET /hello\r\n\r\n")) == 400);
  CHECK(status_of(http_exchange(addr, "GET /hello HTTP/2.0\r\n\r\n")) == 400);
  CHECK(status_of(http_exchange(addr, "GET hello HTTP/1.1\r\n\r\n")) == 400);
  CHECK(status_of(http_exchange(addr, "GET /a b HTTP/1.1\r\n\r\n")) == 400);
  CHECK(http_get(addr, "/hello").status == 200);
}

TEST_CASE("a request head over the limit gets 431, with or without its end") {
  HttpServer server("test", "127.0.0.1:0", hello, HttpServerOptions{.max_head_bytes = 1024});
  std::string addr = address_of(server);
  std::string big_header = "X-Filler: " + std::string(2000, 'a') + "\r\n";
  CHECK(status_of(http_exchange(addr, "GET /hello HTTP/1.1\r\n" + big_header + "\r\n")) == 431);
  // Never ending: the server answers once the limit is passed, not at the deadline.
  CHECK(status_of(http_exchange(addr, "GET /hello HTTP/1.1\r\n" + big_header)) == 431);
  CHECK(http_get(addr, "/hello").status == 200);
}

TEST_CASE("a client that never finishes its head gets 408 at the deadline and does not block others") {
  HttpServer server("test", "127.0.0.1:0", hello, HttpServerOptions{.timeout = std::chrono::milliseconds(300)});
  std::string addr = address_of(server);
  ListenAddress target = parse_listen_address(addr);
  UniqueFd slow(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(::connect(slow.get(), reinterpret_cast<const sockaddr*>(&target.addr), target.len) == 0);
  REQUIRE(::send(slow.get(), "GET /hel", 8, MSG_NOSIGNAL) == 8);
  // Served while the slow one is still open.
  CHECK(http_get(addr, "/hello").status == 200);
  std::string answer;
  char buf[512];
  for (ssize_t n; (n = ::recv(slow.get(), buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  CHECK(status_of(answer) == 408);
}

TEST_CASE("connections beyond the cap get 503") {
  HttpServer server("test", "127.0.0.1:0", hello, HttpServerOptions{.max_connections = 1});
  std::string addr = address_of(server);
  ListenAddress target = parse_listen_address(addr);
  UniqueFd holder(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(::connect(holder.get(), reinterpret_cast<const sockaddr*>(&target.addr), target.len) == 0);
  // The holder is accepted before the next connection is: the server accepts in order.
  CHECK(status_of(http_exchange(addr, "GET /hello HTTP/1.1\r\n\r\n")) == 503);
  holder.reset();
  // Once the holder is gone the server serves again (it notices the close on its next poll).
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) status = http_get(addr, "/hello").status;
  CHECK(status == 200);
}

TEST_CASE("listen addresses: IPv4 and bracketed IPv6 with a port; anything else is refused with the reason") {
  CHECK(parse_listen_address("127.0.0.1:61678").len == sizeof(sockaddr_in));
  CHECK(parse_listen_address("[::1]:0").len == sizeof(sockaddr_in6));
  CHECK_THROWS_AS(parse_listen_address("localhost:80"), Error);
  CHECK_THROWS_AS(parse_listen_address("127.0.0.1"), Error);
  CHECK_THROWS_AS(parse_listen_address("127.0.0.1:65536"), Error);
  CHECK_THROWS_AS(parse_listen_address("127.0.0.1:-1"), Error);
  CHECK_THROWS_AS(parse_listen_address("::1:80"), Error);
  CHECK_THROWS_WITH_AS(parse_listen_address("1.2.3:80"), doctest::Contains("not an IPv4 address"), Error);
}

TEST_CASE("a taken address is an error at construction") {
  HttpServer first("test", "127.0.0.1:0", hello);
  CHECK_THROWS_AS(HttpServer("test", address_of(first), hello), Error);
}

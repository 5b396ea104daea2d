// proxy_for (pure, with a fake environment), and Client through a CONNECT / forward proxy on
// loopback with the proxy variables set in the process environment (restored after each test).
#include "common/http/proxy.h"

#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/http/client.h"
#include "common/http/test_server.h"

using namespace vpcri::http;
using namespace vpcri::http::test;
using vpcri::Errc;
using vpcri::Error;

namespace {

Getenv fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The proxy for `scheme`/`host` with only `vars` set.
std::optional<Proxy> proxy(const std::string& scheme, const std::string& host, std::map<std::string, std::string> vars) {
  return proxy_for(scheme, host, fake_env(std::move(vars)));
}

// Whether `no_proxy` sends `host` around https_proxy.
bool bypassed(const std::string& no_proxy, const std::string& host, const char* var = "no_proxy") {
  return !proxy("https", host, {{"https_proxy", "http://proxy.test:3128"}, {var, no_proxy}}).has_value();
}

// The vpcri::Error proxy_for throws, or nullopt when it does not throw.
std::optional<Error> error_of(const std::string& scheme, std::map<std::string, std::string> vars) {
  try {
    proxy("https" == scheme ? "https" : "http", "example.com", std::move(vars));
  } catch (const Error& e) {
    return e;
  }
  return std::nullopt;
}

}  // namespace

// ---- proxy_for: which variable ----

TEST_CASE("proxy_for: no proxy when no variable is set") {
  CHECK_FALSE(proxy("https", "example.com", {}).has_value());
  CHECK_FALSE(proxy("http", "example.com", {}).has_value());
  // Unrelated variables change nothing.
  CHECK_FALSE(proxy("https", "example.com", {{"no_proxy", "foo.com"}, {"PATH", "/bin"}}).has_value());
}

TEST_CASE("proxy_for: https_proxy and HTTPS_PROXY are for https URLs only") {
  auto p = proxy("https", "example.com", {{"https_proxy", "http://lower.test:3128"}});
  REQUIRE(p.has_value());
  CHECK(p->host == "lower.test");
  CHECK(p->port == "3128");
  CHECK(p->authorization == "");

  p = proxy("https", "example.com", {{"HTTPS_PROXY", "http://upper.test:8080"}});
  REQUIRE(p.has_value());
  CHECK(p->host == "upper.test");
  CHECK(p->port == "8080");

  // Not for http URLs.
  CHECK_FALSE(proxy("http", "example.com", {{"https_proxy", "http://lower.test:3128"}}).has_value());
  CHECK_FALSE(proxy("http", "example.com", {{"HTTPS_PROXY", "http://upper.test:3128"}}).has_value());
}

TEST_CASE("proxy_for: lower-case https_proxy takes precedence over HTTPS_PROXY (as curl)") {
  auto p = proxy("https", "example.com",
                 {{"https_proxy", "http://lower.test:1"}, {"HTTPS_PROXY", "http://upper.test:2"}});
  REQUIRE(p.has_value());
  CHECK(p->host == "lower.test");
  CHECK(p->port == "1");
}

TEST_CASE("proxy_for: http_proxy is read in lower case only; HTTP_PROXY is ignored") {
  auto p = proxy("http", "example.com", {{"http_proxy", "http://plain.test:3128"}});
  REQUIRE(p.has_value());
  CHECK(p->host == "plain.test");
  CHECK(p->port == "3128");

  CHECK_FALSE(proxy("http", "example.com", {{"HTTP_PROXY", "http://cgi-injected.test:3128"}}).has_value());
  // Not for https URLs either.
  CHECK_FALSE(proxy("https", "example.com", {{"http_proxy", "http://plain.test:3128"}}).has_value());
}

TEST_CASE("proxy_for: all_proxy / ALL_PROXY are the fallback for both schemes") {
  for (std::string var : {"all_proxy", "ALL_PROXY"}) {
    CAPTURE(var);
    for (std::string scheme : {"http", "https"}) {
      CAPTURE(scheme);
      auto p = proxy(scheme, "example.com", {{var, "http://all.test:9000"}});
      REQUIRE(p.has_value());
      CHECK(p->host == "all.test");
      CHECK(p->port == "9000");
    }
  }
  // The scheme's own variable wins.
  auto p = proxy("https", "example.com", {{"https_proxy", "http://s.test:1"}, {"all_proxy", "http://all.test:2"}});
  REQUIRE(p.has_value());
  CHECK(p->host == "s.test");
  p = proxy("http", "example.com", {{"http_proxy", "http://h.test:1"}, {"ALL_PROXY", "http://all.test:2"}});
  REQUIRE(p.has_value());
  CHECK(p->host == "h.test");
  // An ignored HTTP_PROXY does not hide all_proxy.
  p = proxy("http", "example.com", {{"HTTP_PROXY", "http://evil.test:1"}, {"ALL_PROXY", "http://all.test:2"}});
  REQUIRE(p.has_value());
  CHECK(p->host == "all.test");
  CHECK(p->port == "2");
}

// ---- proxy_for: the proxy URL ----

TEST_CASE("proxy_for: bare host[:port], default port 1080, IP literals") {
  struct Case {
    const char* value;
    const char* host;
    const char* port;
  };
  for (auto c : {Case{"proxy.internal:3128", "proxy.internal", "3128"},
                 Case{"proxy.internal", "proxy.internal", "1080"},
                 Case{"http://proxy.internal", "proxy.internal", "1080"},
                 Case{"http://proxy.internal/", "proxy.internal", "1080"},
                 Case{"http://proxy.internal:8080/", "proxy.internal", "8080"},
                 Case{"http://10.0.0.1:3128", "10.0.0.1", "3128"},
                 Case{"10.0.0.1:3128", "10.0.0.1", "3128"},
                 Case{"http://[fd00::1]:3128", "fd00::1", "3128"},
                 Case{"http://[fd00::1]", "fd00::1", "1080"}}) {
    std::string value = c.value;
    CAPTURE(value);
    auto p = proxy("https", "example.com", {{"https_proxy", c.value}});
    REQUIRE(p.has_value());
    CHECK(p->host == c.host);
    CHECK(p->port == c.port);
    CHECK(p->authorization == "");
  }
}

TEST_CASE("proxy_for: user:password in the proxy URL becomes Basic authorization, percent-decoded") {
  auto p = proxy("https", "example.com", {{"https_proxy", "http://user:pass@proxy.test:3128"}});
  REQUIRE(p.has_value());
  CHECK(p->host == "proxy.test");
  CHECK(p->port == "3128");
  CHECK(p->authorization == "Basic dXNlcjpwYXNz");  // base64("user:pass")

  p = proxy("http", "example.com", {{"http_proxy", "http://us%40er:p%3Ass%2Fw%25rd@proxy.test:3128/"}});
  REQUIRE(p.has_value());
  CHECK(p->host == "proxy.test");
  CHECK(p->authorization == basic_auth("us@er:p:ss/w%rd"));
  CHECK(p->authorization == "Basic dXNAZXI6cDpzcy93JXJk");
}

// ---- proxy_for: no_proxy ----

TEST_CASE("no_proxy: '*' bypasses every host") {
  CHECK(bypassed("*", "example.com"));
  CHECK(bypassed("*", "10.1.2.3"));
  CHECK(bypassed("*", "::1"));
}

TEST_CASE("no_proxy: a name matches itself and its subdomains, not other names ending alike") {
  CHECK(bypassed("example.com", "example.com"));
  CHECK(bypassed("example.com", "www.example.com"));
  CHECK(bypassed("example.com", "a.b.example.com"));
  CHECK_FALSE(bypassed("example.com", "notexample.com"));
  CHECK_FALSE(bypassed("example.com", "example.com.evil.test"));
  CHECK_FALSE(bypassed("example.com", "example.org"));
  CHECK_FALSE(bypassed("www.example.com", "example.com"));
}

TEST_CASE("no_proxy: a leading dot means the same as without it") {
  CHECK(bypassed(".example.com", "www.example.com"));
  CHECK(bypassed(".example.com", "a.b.example.com"));
  CHECK(bypassed(".example.com", "example.com"));
  CHECK_FALSE(bypassed(".example.com", "notexample.com"));
  CHECK_FALSE(bypassed(".example.com", "example.org"));
}

TEST_CASE("no_proxy: IP literals and IPv4 CIDRs") {
  CHECK(bypassed("10.1.2.3", "10.1.2.3"));
  CHECK_FALSE(bypassed("10.1.2.3", "10.1.2.30"));
  CHECK_FALSE(bypassed("10.1.2.3", "10.1.2.4"));
  CHECK(bypassed("10.0.0.0/8", "10.255.1.2"));
  CHECK_FALSE(bypassed("10.0.0.0/8", "11.0.0.1"));
  CHECK(bypassed("192.168.1.0/24", "192.168.1.77"));
  CHECK_FALSE(bypassed("192.168.1.0/24", "192.168.2.1"));
  CHECK(bypassed("169.254.169.254/32", "169.254.169.254"));
  CHECK_FALSE(bypassed("169.254.169.254/32", "169.254.169.253"));
  CHECK(bypassed("172.16.0.0/12", "172.31.255.255"));
  CHECK_FALSE(bypassed("172.16.0.0/12", "172.32.0.1"));
  // A CIDR says nothing about names.
  CHECK_FALSE(bypassed("10.0.0.0/8", "example.com"));
}

TEST_CASE("no_proxy: IPv6 literals and CIDRs") {
  CHECK(bypassed("::1", "::1"));
  CHECK_FALSE(bypassed("::1", "::2"));
  CHECK(bypassed("fd00:ec2::254", "fd00:ec2::254"));
  CHECK(bypassed("fd00::/8", "fd12:3456::1"));
  CHECK_FALSE(bypassed("fd00::/8", "fe80::1"));
  CHECK(bypassed("2001:db8::/32", "2001:db8:ffff::1"));
  CHECK_FALSE(bypassed("2001:db8::/32", "2001:db9::1"));
  // An IPv6 CIDR does not match IPv4 addresses.
  CHECK_FALSE(bypassed("fd00::/8", "10.0.0.1"));
}

TEST_CASE("no_proxy: a list with whitespace and empty entries") {
  std::string list = "  foo.test , 10.0.0.0/8,,  example.com  ,\t.bar.test ,fd00::/8 ";
  CHECK(bypassed(list, "foo.test"));
  CHECK(bypassed(list, "www.example.com"));
  CHECK(bypassed(list, "example.com"));
  CHECK(bypassed(list, "x.bar.test"));
  CHECK(bypassed(list, "10.9.8.7"));
  CHECK(bypassed(list, "fd00::5"));
  CHECK_FALSE(bypassed(list, "baz.test"));
  CHECK_FALSE(bypassed(list, "11.0.0.1"));
}

TEST_CASE("no_proxy: names compare case-insensitively") {
  CHECK(bypassed("EXAMPLE.com", "www.example.com"));
  CHECK(bypassed("example.com", "WWW.Example.COM"));
  CHECK(bypassed(".Example.Com", "api.EXAMPLE.com"));
  CHECK_FALSE(bypassed("EXAMPLE.com", "NOTEXAMPLE.COM"));
}

TEST_CASE("no_proxy: NO_PROXY works too, and applies to http_proxy and all_proxy") {
  CHECK(bypassed("example.com", "www.example.com", "NO_PROXY"));
  CHECK_FALSE(bypassed("example.com", "www.example.org", "NO_PROXY"));
  CHECK_FALSE(proxy("http", "example.com", {{"http_proxy", "http://p.test:1"}, {"no_proxy", "example.com"}}).has_value());
  CHECK(proxy("http", "example.org", {{"http_proxy", "http://p.test:1"}, {"no_proxy", "example.com"}}).has_value());
  CHECK_FALSE(proxy("https", "example.com", {{"all_proxy", "http://p.test:1"}, {"NO_PROXY", "example.com"}}).has_value());
  CHECK_FALSE(proxy("http", "10.1.1.1", {{"ALL_PROXY", "http://p.test:1"}, {"no_proxy", "10.0.0.0/8"}}).has_value());
}

// ---- proxy_for: invalid proxies ----

TEST_CASE("proxy_for: https:// and socks5:// proxies throw invalid_argument naming the variable") {
  struct Case {
    const char* scheme;
    const char* var;
    const char* value;
  };
  for (auto c : {Case{"https", "https_proxy", "https://proxy.test:443"},
                 Case{"https", "HTTPS_PROXY", "socks5://proxy.test:1080"},
                 Case{"https", "all_proxy", "socks5h://proxy.test:1080"},
                 Case{"http", "http_proxy", "https://proxy.test:443"},
                 Case{"http", "ALL_PROXY", "socks5://proxy.test"}}) {
    std::string var = c.var, value = c.value;
    CAPTURE(var);
    CAPTURE(value);
    auto e = error_of(c.scheme, {{c.var, c.value}});
    REQUIRE(e.has_value());
    CHECK(e->code() == Errc::invalid_argument);
    CHECK(std::string(e->what()).find(c.var) != std::string::npos);
  }
}

TEST_CASE("proxy_for: an unparsable proxy throws invalid_argument") {
  for (std::string value : {"http://proxy.test:notaport", "http://:3128", "http://"}) {
    CAPTURE(value);
    auto e = error_of("https", {{"https_proxy", value}});
    REQUIRE(e.has_value());
    CHECK(e->code() == Errc::invalid_argument);
    CHECK(std::string(e->what()).find("https_proxy") != std::string::npos);
  }
}

TEST_CASE("proxy_for: a bad variable of the other scheme is not read") {
  CHECK_FALSE(proxy("http", "example.com", {{"https_proxy", "socks5://proxy.test:1080"}}).has_value());
  auto p = proxy("https", "example.com", {{"http_proxy", "socks5://x.test:1"}, {"https_proxy", "http://ok.test:2"}});
  REQUIRE(p.has_value());
  CHECK(p->host == "ok.test");
}

TEST_CASE("proxy_for: the default Getenv reads the process environment") {
  ProxyEnv env;
  CHECK_FALSE(proxy_for("https", "example.com").has_value());
  env.set("https_proxy", "http://from-env.test:3128");
  auto p = proxy_for("https", "example.com");
  REQUIRE(p.has_value());
  CHECK(p->host == "from-env.test");
  CHECK(p->port == "3128");
  env.set("no_proxy", "example.com");
  CHECK_FALSE(proxy_for("https", "example.com").has_value());
  CHECK(process_getenv("https_proxy") == std::optional<std::string>("http://from-env.test:3128"));
  CHECK_FALSE(process_getenv("VPCRI_HTTP_TEST_SURELY_UNSET").has_value());
}

// ---- Client through a proxy ----

namespace {

// An origin that answers every request with "origin <target>" (keep-alive).
LoopbackServer::Handler origin_handler() {
  return [](Connection& c) {
    while (auto r = c.read_request()) c.respond(200, "origin " + r->target);
  };
}

struct Got {
  Result result;
  std::string body;
};

Got get(Client& client, const std::string& url) {
  Request r;
  r.url = url;
  r.connect_timeout = std::chrono::milliseconds(1000);
  r.total_timeout = std::chrono::milliseconds(3000);
  Got g;
  g.result = client.perform(r, [&](const Head&, std::string_view chunk) { g.body += chunk; });
  return g;
}

bool has_header(const ReceivedRequest& r, const std::string& lower_name) { return r.count(lower_name) > 0; }

}  // namespace

TEST_CASE("Client: an https request tunnels through https_proxy with CONNECT") {
  ProxyEnv env;
  auto& pki = shared_pki();
  LoopbackServer origin(origin_handler(), tls_options(pki.ip));
  TestProxy proxy;
  SUBCASE("https_proxy") { env.set("https_proxy", proxy.url()); }
  SUBCASE("HTTPS_PROXY, bare host:port") { env.set("HTTPS_PROXY", proxy.server().authority()); }
  SUBCASE("all_proxy") { env.set("all_proxy", proxy.url()); }
  Client client(client_options(pki.pki.ca_file()));
  auto g = get(client, origin.url("/secret?x=1"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.head.status == 200);
  CHECK(g.body == "origin /secret?x=1");

  auto seen = proxy.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "CONNECT");
  CHECK(seen[0].target == "127.0.0.1:" + std::to_string(origin.port()));
  CHECK_FALSE(has_header(seen[0], "proxy-authorization"));
  auto at_origin = origin.requests();
  REQUIRE(at_origin.size() == 1);
  CHECK(at_origin[0].target == "/secret?x=1");  // origin-form inside the tunnel
  CHECK(at_origin[0].header("host") == origin.authority());

  // The tunnel is kept alive like any connection to the origin.
  g = get(client, origin.url("/again"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "origin /again");
  CHECK(proxy.requests().size() == 1);
  CHECK(origin.accepts() == 1);
}

TEST_CASE("Client: CONNECT to an IPv6 origin names it in brackets") {
  if (!ipv6_loopback_available()) {
    MESSAGE("no IPv6 loopback here: skipped");
    return;
  }
  ProxyEnv env;
  auto& pki = shared_pki();
  LoopbackServer origin(origin_handler(), tls_options(pki.ip, true));
  TestProxy proxy;
  env.set("https_proxy", proxy.url());
  Client client(client_options(pki.pki.ca_file()));
  auto g = get(client, origin.url("/six"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "origin /six");
  auto seen = proxy.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].target == "[::1]:" + std::to_string(origin.port()));
}

TEST_CASE("Client: CONNECT carries Proxy-Authorization from the proxy URL, the origin never sees it") {
  ProxyEnv env;
  auto& pki = shared_pki();
  LoopbackServer origin(origin_handler(), tls_options(pki.ip));
  TestProxy proxy;
  env.set("https_proxy", "http://user:pa%40ss@" + proxy.server().authority());
  Client client(client_options(pki.pki.ca_file()));
  auto g = get(client, origin.url("/"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "origin /");
  auto seen = proxy.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "CONNECT");
  CHECK(seen[0].header("proxy-authorization") == basic_auth("user:pa@ss"));
  auto at_origin = origin.requests();
  REQUIRE(at_origin.size() == 1);
  CHECK_FALSE(has_header(at_origin[0], "proxy-authorization"));
}

TEST_CASE("Client: an http request goes to http_proxy with an absolute-form target") {
  ProxyEnv env;
  LoopbackServer origin(origin_handler());
  TestProxy proxy;
  std::string expected_auth;
  SUBCASE("without credentials") { env.set("http_proxy", proxy.url()); }
  SUBCASE("with credentials") {
    env.set("http_proxy", "http://alice:s3cret@" + proxy.server().authority() + "/");
    expected_auth = basic_auth("alice:s3cret");
  }
  Client client;
  std::string url = origin.url("/path?q=1");
  auto g = get(client, url);
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.result.head.status == 200);
  CHECK(g.body == "proxied GET " + url);
  auto seen = proxy.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].target == "http://127.0.0.1:" + std::to_string(origin.port()) + "/path?q=1");
  CHECK(seen[0].version == "HTTP/1.1");
  CHECK(seen[0].header("host") == origin.authority());
  CHECK(seen[0].header("proxy-authorization") == expected_auth);
  CHECK(origin.requests().empty());
  CHECK(origin.accepts() == 0);

  // Kept alive: the next request goes over the same connection to the proxy.
  g = get(client, origin.url("/next"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "proxied GET " + origin.url("/next"));
  CHECK(proxy.server().accepts() == 1);
}

TEST_CASE("Client: HTTP_PROXY (upper case) is ignored for http requests") {
  ProxyEnv env;
  LoopbackServer origin(origin_handler());
  TestProxy proxy;
  env.set("HTTP_PROXY", proxy.url());
  Client client;
  auto g = get(client, origin.url("/direct"));
  INFO(g.result.error);
  REQUIRE_FALSE(g.result.failed());
  CHECK(g.body == "origin /direct");
  CHECK(proxy.server().accepts() == 0);
}

TEST_CASE("Client: use_proxy=false goes direct whatever the environment says") {
  ProxyEnv env;
  auto& pki = shared_pki();
  LoopbackServer plain(origin_handler());
  LoopbackServer secure(origin_handler(), tls_options(pki.ip));
  TestProxy proxy;
  env.set("http_proxy", proxy.url());
  env.set("https_proxy", proxy.url());
  env.set("all_proxy", proxy.url());
  Client client(client_options(pki.pki.ca_file(), false));
  auto g = get(client, plain.url("/a"));
  INFO(g.result.error);
  CHECK_FALSE(g.result.failed());
  CHECK(g.body == "origin /a");
  g = get(client, secure.url("/b"));
  INFO(g.result.error);
  CHECK_FALSE(g.result.failed());
  CHECK(g.body == "origin /b");
  CHECK(proxy.server().accepts() == 0);
}

TEST_CASE("Client: no_proxy sends matching hosts around the proxy") {
  ProxyEnv env;
  auto& pki = shared_pki();
  LoopbackServer plain(origin_handler());
  LoopbackServer secure(origin_handler(), tls_options(pki.ip));
  TestProxy proxy;
  env.set("http_proxy", proxy.url());
  env.set("https_proxy", proxy.url());
  SUBCASE("no_proxy=127.0.0.1") { env.set("no_proxy", "127.0.0.1"); }
  SUBCASE("NO_PROXY=127.0.0.0/8") { env.set("NO_PROXY", "example.com, 127.0.0.0/8"); }
  SUBCASE("no_proxy=*") { env.set("no_proxy", "*"); }
  Client client(client_options(pki.pki.ca_file()));
  auto g = get(client, plain.url("/a"));
  INFO(g.result.error);
  CHECK_FALSE(g.result.failed());
  CHECK(g.body == "origin /a");
  g = get(client, secure.url("/b"));
  INFO(g.result.error);
  CHECK_FALSE(g.result.failed());
  CHECK(g.body == "origin /b");
  CHECK(proxy.server().accepts() == 0);
}

TEST_CASE("Client: a proxy that refuses CONNECT is a failure, not a direct connection") {
  ProxyEnv env;
  auto& pki = shared_pki();
  LoopbackServer origin(origin_handler(), tls_options(pki.ip));
  TestProxy proxy(403);
  env.set("https_proxy", proxy.url());
  Client client(client_options(pki.pki.ca_file()));
  auto g = get(client, origin.url("/"));
  CHECK(g.result.failed());
  CHECK(g.body.empty());
  CHECK(proxy.requests().size() == 1);
  CHECK(origin.accepts() == 0);
}

TEST_CASE("Client: an unreachable proxy is a failure, not a direct connection") {
  ProxyEnv env;
  LoopbackServer origin(origin_handler());
  env.set("http_proxy", "http://127.0.0.1:" + std::to_string(closed_port()));
  Client client;
  auto g = get(client, origin.url("/"));
  CHECK(g.result.failed());
  CHECK(origin.accepts() == 0);
}

TEST_CASE("Client: an unusable proxy variable never leads to a direct connection") {
  ProxyEnv env;
  LoopbackServer origin(origin_handler());
  env.set("http_proxy", "socks5://127.0.0.1:1080");
  Client client;
  bool threw = false;
  Got g;
  try {
    g = get(client, origin.url("/"));
  } catch (const Error& e) {
    threw = true;
    CHECK(e.code() == Errc::invalid_argument);
    CHECK(std::string(e.what()).find("http_proxy") != std::string::npos);
  }
  CHECK((threw || g.result.failed()));
  CHECK(origin.accepts() == 0);
}

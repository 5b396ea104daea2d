// RegistryClient against a real docker-registry (tests/fixtures/registry.py) on 127.0.0.1,
// through the fixture's fault-injecting proxy where a test needs failures or a request log.
#include "runtime/registry/registry_client.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "common/error.h"
#include "runtime/registry/digest.h"
#include "runtime/registry/http.h"
#include "runtime/registry/www_authenticate.h"
#include "runtime/registry/registry_test_config.h"  // generated: VPCRI_TEST_PYTHON, VPCRI_TEST_FIXTURES_DIR
#include "tests/fixtures/registry_fixture.h"

using namespace vpcri::runtime::registry;
using vpcri::Errc;
using vpcri::Error;
using vpcri::test::RegistryFixture;
using nlohmann::json;

namespace {

constexpr const char* kRepo = "library/busybox";

std::unique_ptr<RegistryFixture> start_fixture(const std::vector<std::string>& args) {
  // Traffic must go to 127.0.0.1 directly, whatever proxy the environment configures.
  for (const char* var : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}) {
    ::unsetenv(var);
  }
  return std::make_unique<RegistryFixture>(VPCRI_TEST_PYTHON, std::string(VPCRI_TEST_FIXTURES_DIR) + "/registry.py",
                                           args);
}

// One registry with the test images per auth mode ("none", "basic", "token"), started on first
// use and shared by the tests; each test starts with no faults and an empty request log. The
// fixtures are stopped by PID at exit (and die with this process if it crashes).
RegistryFixture& shared(const std::string& auth = "none") {
  static std::map<std::string, std::unique_ptr<RegistryFixture>> fixtures;
  auto& fixture = fixtures[auth];
  if (!fixture) fixture = start_fixture({"--auth", auth, "--push-images"});
  fixture->clear_faults();
  fixture->clear_request_log();
  return *fixture;
}

// Fast-failing settings for plain-HTTP loopback registries.
ClientConfig config_for(const std::vector<std::string>& hosts, int max_attempts = 4) {
  ClientConfig config;
  for (const auto& h : hosts) config.hosts[h].insecure_http = true;
  config.connect_timeout = std::chrono::milliseconds(2000);
  config.request_timeout = std::chrono::milliseconds(10000);
  config.low_speed_timeout = std::chrono::milliseconds(1000);
  config.max_attempts = max_attempts;
  config.initial_backoff = std::chrono::milliseconds(10);
  return config;
}

json images(const RegistryFixture& fx) { return fx.info()["images"]; }
std::string manifest_digest(const RegistryFixture& fx, const char* name) {
  return images(fx)["manifests"][name]["digest"];
}
json base_layer(const RegistryFixture& fx) { return images(fx)["layers"][0]; }

struct Received {
  std::string digest;
  int64_t bytes = 0;
  int chunks = 0;
};

Received fetch_blob(RegistryClient& client, const std::string& host, const std::string& digest,
                    const Credentials& creds = {}) {
  DigestHasher hasher;
  Received r;
  client.get_blob(host, kRepo, digest, [&](const char* data, size_t size) {
    hasher.update(data, size);
    r.bytes += static_cast<int64_t>(size);
    ++r.chunks;
  }, creds);
  r.digest = hasher.finish();
  return r;
}

// Requests the proxy saw whose path contains `part`.
std::vector<json> requests(const RegistryFixture& fx, const std::string& part, const std::string& listener = "proxy") {
  std::vector<json> out;
  for (const auto& entry : fx.request_log()) {
    if (entry["listener"] == listener && entry["path"].get<std::string>().find(part) != std::string::npos) {
      out.push_back(entry);
    }
  }
  return out;
}

Errc code_of(const std::function<void()>& fn, std::string& message) {
  try {
    fn();
  } catch (const Error& e) {
    message = e.what();
    return e.code();
  }
  throw std::runtime_error("expected a vpcri::Error, nothing was thrown");
}

int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // nothing listens there now
  return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("runtime-registry: manifests by tag and digest, index and docker types") {
  auto& fx = shared();
  RegistryClient client(config_for({fx.registry_host()}));
  const std::string host = fx.registry_host();

  Manifest index = client.get_manifest(host, kRepo, "latest");
  CHECK(index.media_type == "application/vnd.oci.image.index.v1+json");
  CHECK(index.digest == manifest_digest(fx, "oci-index"));
  CHECK(digest_of(index.body) == index.digest);
  auto doc = json::parse(index.body);
  REQUIRE(doc["manifests"].size() == 2);
  CHECK(doc["manifests"][0]["platform"]["architecture"] == "amd64");

  // Index -> the amd64 manifest, by digest.
  std::string amd64 = doc["manifests"][0]["digest"];
  Manifest m = client.get_manifest(host, kRepo, amd64);
  CHECK(m.media_type == "application/vnd.oci.image.manifest.v1+json");
  CHECK(m.digest == amd64);
  CHECK(json::parse(m.body)["config"]["digest"] == images(fx)["configs"]["oci-amd64"]["digest"]);
  std::string arm64 = doc["manifests"][1]["digest"];
  CHECK(json::parse(client.get_manifest(host, kRepo, arm64).body)["config"]["digest"] ==
        images(fx)["configs"]["oci-arm64"]["digest"]);

  Manifest list = client.get_manifest(host, kRepo, "docker-list");
  CHECK(list.media_type == "application/vnd.docker.distribution.manifest.list.v2+json");
  CHECK(list.digest == manifest_digest(fx, "docker-list"));
  Manifest docker = client.get_manifest(host, kRepo, "docker-amd64");
  CHECK(docker.media_type == "application/vnd.docker.distribution.manifest.v2+json");
  CHECK(docker.digest == manifest_digest(fx, "docker-amd64"));
}

TEST_CASE("runtime-registry: blob streamed in chunks with progress, content verified by the test") {
  auto& fx = shared();
  RegistryClient client(config_for({fx.registry_host()}));
  json layer = base_layer(fx);
  DigestHasher hasher;
  int64_t bytes = 0, last_done = -1, last_total = -2;
  int chunks = 0;
  bool monotonic = true;
  client.get_blob(fx.registry_host(), kRepo, layer["digest"], [&](const char* data, size_t size) {
    hasher.update(data, size);
    bytes += static_cast<int64_t>(size);
    ++chunks;
  }, {}, [&](int64_t done, int64_t total) {
    monotonic = monotonic && done > last_done;
    last_done = done;
    last_total = total;
  });
  CHECK(hasher.finish() == layer["digest"].get<std::string>());
  CHECK(bytes == layer["size"].get<int64_t>());
  CHECK(chunks > 1);  // streamed, not handed over as one buffer
  CHECK(monotonic);
  CHECK(last_done == bytes);
  CHECK(last_total == bytes);
}

TEST_CASE("runtime-registry: unknown manifest, repository and blob are not_found") {
  auto& fx = shared();
  RegistryClient client(config_for({fx.registry_host()}));
  const std::string host = fx.registry_host();
  std::string message;
  CHECK(code_of([&] { client.get_manifest(host, "library/nope", "latest"); }, message) == Errc::not_found);
  CHECK(message == "manifest unknown: " + host + "/library/nope:latest");
  CHECK(code_of([&] { client.get_manifest(host, kRepo, "no-such-tag"); }, message) == Errc::not_found);
  std::string missing = digest_of("not a blob in the registry");
  CHECK(code_of([&] { fetch_blob(client, host, missing); }, message) == Errc::not_found);
  CHECK(message == "blob unknown: " + host + "/" + kRepo + "@" + missing);
}

TEST_CASE("runtime-registry: malformed references are rejected before any request") {
  RegistryClient client(config_for({"127.0.0.1:1"}, 1));
  std::string message;
  CHECK(code_of([&] { client.get_manifest("127.0.0.1:1", "../etc", "latest"); }, message) == Errc::invalid_argument);
  CHECK(code_of([&] { client.get_manifest("127.0.0.1:1", "Library/Busybox", "latest"); }, message) ==
        Errc::invalid_argument);
  CHECK(code_of([&] { client.get_manifest("127.0.0.1:1", kRepo, "bad tag"); }, message) == Errc::invalid_argument);
  CHECK(code_of([&] { client.get_manifest("127.0.0.1:1", kRepo, "sha256:abc"); }, message) == Errc::invalid_argument);
  CHECK(code_of([&] { client.get_manifest("a/b", kRepo, "latest"); }, message) == Errc::invalid_argument);
  CHECK(code_of([&] { fetch_blob(client, "127.0.0.1:1", "latest"); }, message) == Errc::invalid_argument);
  CHECK(message.find("invalid blob digest") != std::string::npos);
}

TEST_CASE("runtime-registry: unreachable registry is unavailable after the configured attempts") {
  const std::string host = "127.0.0.1:" + std::to_string(closed_port());
  RegistryClient client(config_for({host}, 3));
  std::string message;
  CHECK(code_of([&] { client.get_manifest(host, kRepo, "latest"); }, message) == Errc::unavailable);
  CHECK(message == "cannot reach registry " + host + ": Connection refused (after 3 attempts)");
}

TEST_CASE("runtime-registry: 5xx, 429 and dropped connections are retried") {
  auto& fx = shared();
  const std::string host = fx.proxy_host();
  RegistryClient client(config_for({host}));

  fx.add_faults({"kind=status,code=500,path=/manifests/,count=2"});
  CHECK(client.get_manifest(host, kRepo, "latest").digest == manifest_digest(fx, "oci-index"));
  auto seen = requests(fx, "/manifests/");
  REQUIRE(seen.size() == 3);
  CHECK(seen[0]["status"] == 500);
  CHECK(seen[2]["status"] == 200);

  fx.add_faults({"kind=status,code=429,retry_after=0,path=/manifests/", "kind=drop,path=/manifests/"});
  CHECK(client.get_manifest(host, kRepo, "amd64").digest == manifest_digest(fx, "oci-amd64"));

  fx.add_faults({"kind=status,code=503,path=/blobs/", "kind=drop,path=/blobs/"});
  CHECK(fetch_blob(client, host, base_layer(fx)["digest"]).digest == base_layer(fx)["digest"]);

  SUBCASE("persistent 5xx gives up after max_attempts with the status in the message") {
    fx.clear_request_log();
    RegistryClient impatient(config_for({host}, 2));
    fx.add_faults({"kind=status,code=502,path=/manifests/,count=always"});
    std::string message;
    CHECK(code_of([&] { impatient.get_manifest(host, kRepo, "latest"); }, message) == Errc::unavailable);
    CHECK(message.find("answered 502") != std::string::npos);
    CHECK(message.find("after 2 attempts") != std::string::npos);
    CHECK(requests(fx, "/manifests/").size() == 2);
  }
}

TEST_CASE("runtime-registry: manifest digest mismatches are detected") {
  auto& fx = shared();
  const std::string host = fx.proxy_host();
  RegistryClient client(config_for({host}));
  std::string message;

  fx.add_faults({"kind=digest-header,path=/manifests/latest,count=always"});
  CHECK(code_of([&] { client.get_manifest(host, kRepo, "latest"); }, message) == Errc::invalid_argument);
  CHECK(message.starts_with("manifest digest mismatch: registry said sha256:"));
  CHECK(message.find("content is " + manifest_digest(fx, "oci-index")) != std::string::npos);

  // By digest, without a Docker-Content-Digest header: the requested digest is the reference.
  std::string amd64 = manifest_digest(fx, "oci-amd64");
  fx.add_faults({"kind=corrupt-body,drop_headers=Docker-Content-Digest,path=/manifests/sha256,count=always"});
  CHECK(code_of([&] { client.get_manifest(host, kRepo, amd64); }, message) == Errc::invalid_argument);
  CHECK(message.starts_with("manifest digest mismatch: requested " + amd64 + ", content is sha256:"));

  // A corrupt body with the registry's true digest header.
  fx.clear_faults();
  fx.add_faults({"kind=corrupt-body,path=/manifests/amd64,count=always"});
  CHECK(code_of([&] { client.get_manifest(host, kRepo, "amd64"); }, message) == Errc::invalid_argument);
  CHECK(message.starts_with("manifest digest mismatch: registry said " + amd64));
}

TEST_CASE("runtime-registry: oversized manifests are refused") {
  auto& fx = shared();
  const std::string host = fx.proxy_host();
  RegistryClient client(config_for({host}));
  fx.add_faults({"kind=pad-body,bytes=5000000,path=/manifests/latest"});
  std::string message;
  CHECK(code_of([&] { client.get_manifest(host, kRepo, "latest"); }, message) == Errc::invalid_argument);
  CHECK(message == "manifest " + host + "/" + kRepo + ":latest from " + host + " is larger than 4 MiB");
}

TEST_CASE("runtime-registry: a connection reset mid-blob resumes with a Range request") {
  auto& fx = shared();
  const std::string host = fx.proxy_host();
  RegistryClient client(config_for({host}));
  json layer = base_layer(fx);
  const int64_t size = layer["size"];

  fx.add_faults({"kind=reset-mid-body,path=/blobs/"});
  Received r = fetch_blob(client, host, layer["digest"]);
  CHECK(r.digest == layer["digest"].get<std::string>());
  CHECK(r.bytes == size);  // each byte once
  auto seen = requests(fx, "/blobs/");
  REQUIRE(seen.size() == 2);
  CHECK(seen[0]["range"].is_null());
  CHECK(seen[1]["range"] == "bytes=" + std::to_string(size / 2) + "-");  // the proxy cut at half
  CHECK(seen[1]["status"] == 206);

  SUBCASE("a server that ignores Range: the already delivered prefix is skipped") {
    fx.clear_request_log();
    fx.add_faults({"kind=reset-mid-body,ranges=no,path=/blobs/", "kind=no-range,path=/blobs/"});
    Received again = fetch_blob(client, host, layer["digest"]);
    CHECK(again.digest == layer["digest"].get<std::string>());
    CHECK(again.bytes == size);
    auto retried = requests(fx, "/blobs/");
    REQUIRE(retried.size() == 2);
    CHECK(retried[1]["status"] == 200);
  }

  SUBCASE("a transfer that never progresses fails clearly") {
    fx.clear_request_log();
    RegistryClient impatient(config_for({host}, 2));
    fx.add_faults({"kind=reset-mid-body,at=0,path=/blobs/,count=always"});
    std::string message;
    CHECK(code_of([&] { fetch_blob(impatient, host, layer["digest"]); }, message) == Errc::unavailable);
    CHECK(message.starts_with("transfer from registry " + host + " failed: "));
    CHECK(message.find("(after 2 attempts)") != std::string::npos);
  }
}

TEST_CASE("runtime-registry: a stalled blob transfer hits the low-speed timeout and resumes") {
  auto& fx = shared();
  const std::string host = fx.proxy_host();
  RegistryClient client(config_for({host}));  // low_speed_timeout 1 s
  json layer = base_layer(fx);
  fx.add_faults({"kind=stall-mid-body,seconds=20,path=/blobs/"});
  auto started = std::chrono::steady_clock::now();
  Received r = fetch_blob(client, host, layer["digest"]);
  CHECK(r.digest == layer["digest"].get<std::string>());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(15));  // did not wait for the stall
  auto seen = requests(fx, "/blobs/");
  REQUIRE(seen.size() == 2);
  CHECK(seen[1]["status"] == 206);
}

TEST_CASE("runtime-registry: a throwing sink aborts the pull without retries") {
  auto& fx = shared();
  const std::string host = fx.proxy_host();
  ClientConfig config = config_for({host});
  config.hosts[host].mirrors = {"http://" + fx.registry_host()};  // must not be tried either
  RegistryClient client(config);
  struct SinkFull : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  int calls = 0;
  CHECK_THROWS_AS(client.get_blob(host, kRepo, base_layer(fx)["digest"],
                                  [&](const char*, size_t) {
                                    ++calls;
                                    throw SinkFull("disk full");
                                  }),
                  SinkFull);
  CHECK(calls == 1);
}

TEST_CASE("runtime-registry: mirrors are tried in order; down or 404 passes to the next") {
  auto& fx = shared();
  const std::string dead = "http://127.0.0.1:" + std::to_string(closed_port());
  ClientConfig config = config_for({}, 2);
  // The references say docker.io, but nothing may leave this machine: skip_host.
  config.hosts["docker.io"] =
      HostConfig{{dead, "http://" + fx.proxy_host() + "/", fx.str("registry_url")}, false, true};
  RegistryClient client(config);

  // Down -> proxy (answers 404 once) -> the registry itself.
  fx.add_faults({"kind=status,code=404,path=/manifests/"});
  Manifest m = client.get_manifest("docker.io", kRepo, "latest");
  CHECK(m.digest == manifest_digest(fx, "oci-index"));
  auto seen = requests(fx, "/manifests/");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["status"] == 404);

  // Down -> proxy, which serves it.
  fx.clear_request_log();
  CHECK(fetch_blob(client, "docker.io", base_layer(fx)["digest"]).digest == base_layer(fx)["digest"]);
  CHECK(requests(fx, "/blobs/").size() == 1);

  SUBCASE("when every endpoint fails, the last endpoint's error is reported") {
    std::string message;
    CHECK(code_of([&] { client.get_manifest("docker.io", "library/nope", "latest"); }, message) == Errc::not_found);
    CHECK(message == "manifest unknown: docker.io/library/nope:latest");
  }

  SUBCASE("a host with skip_host and no mirrors is a configuration error") {
    ClientConfig nowhere = config_for({});
    nowhere.hosts["quay.io"].skip_host = true;
    RegistryClient c(nowhere);
    std::string message;
    CHECK(code_of([&] { c.get_manifest("quay.io", kRepo, "latest"); }, message) == Errc::invalid_argument);
  }
}

TEST_CASE("runtime-registry: redirected blobs are followed, credentials stay with the registry") {
  auto* fx = &shared("basic");
  const std::string host = fx->proxy_host();
  RegistryClient client(config_for({host}));
  Credentials creds;
  creds.username = fx->str("user");
  creds.password = fx->str("password");
  client.get_manifest(host, kRepo, "latest", creds);  // learns that this registry wants Basic
  fx->clear_request_log();
  fx->add_faults({"kind=redirect,path=/blobs/"});
  json layer = base_layer(*fx);
  Received r = fetch_blob(client, host, layer["digest"], creds);
  CHECK(r.digest == layer["digest"].get<std::string>());
  auto at_registry = requests(*fx, "/blobs/");
  auto at_storage = requests(*fx, "/blobs/", "storage");
  REQUIRE(at_registry.size() == 1);
  CHECK(at_registry[0]["status"] == 307);
  CHECK(at_registry[0]["authorization"] == "Basic");
  REQUIRE(at_storage.size() == 1);
  CHECK(at_storage[0]["status"] == 200);
  CHECK(at_storage[0]["authorization"].is_null());  // another host:port gets no registry credentials
}

TEST_CASE("runtime-registry: basic auth") {
  auto* fx = &shared("basic");
  const std::string host = fx->proxy_host();
  RegistryClient client(config_for({host}));
  Credentials good;
  good.username = fx->str("user");
  good.password = fx->str("password");

  CHECK(client.get_manifest(host, kRepo, "latest", good).digest == manifest_digest(*fx, "oci-index"));
  // The second request sends the credentials up front: no second 401 round trip.
  fx->clear_request_log();
  CHECK(fetch_blob(client, host, base_layer(*fx)["digest"], good).digest == base_layer(*fx)["digest"]);
  auto blob_requests = requests(*fx, "/blobs/");
  REQUIRE(blob_requests.size() == 1);
  CHECK(blob_requests[0]["status"] == 200);

  Credentials encoded;  // Docker config's "auth": base64("user:password")
  encoded.auth = base64_encode(good.username + ":" + good.password);
  CHECK(RegistryClient(config_for({host})).get_manifest(host, kRepo, "amd64", encoded).digest ==
        manifest_digest(*fx, "oci-amd64"));

  SUBCASE("wrong password fails clearly, without a retry loop") {
    fx->clear_request_log();
    Credentials bad = good;
    bad.password = "wrong";
    std::string message;
    CHECK(code_of([&] { client.get_manifest(host, kRepo, "latest", bad); }, message) == Errc::invalid_argument);
    CHECK(message.starts_with("authentication to " + host + " failed"));
    CHECK(requests(*fx, "/manifests/").size() <= 2);
  }

  SUBCASE("no credentials") {
    std::string message;
    RegistryClient fresh(config_for({host}));
    CHECK(code_of([&] { fresh.get_manifest(host, kRepo, "latest"); }, message) == Errc::invalid_argument);
    CHECK(message.find("requires authentication and no credentials were given") != std::string::npos);
  }

  SUBCASE("malformed auth field") {
    Credentials junk;
    junk.auth = "not base64!";
    std::string message;
    RegistryClient fresh(config_for({host}));
    CHECK(code_of([&] { fresh.get_manifest(host, kRepo, "latest", junk); }, message) == Errc::invalid_argument);
  }
}

TEST_CASE("runtime-registry: token auth") {
  auto* fx = &shared("token");
  const std::string host = fx->proxy_host();
  Credentials good;
  good.username = fx->str("user");
  good.password = fx->str("password");
  auto token_requests = [&] { return requests(*fx, "/token", "token"); };

  SUBCASE("user and password; the token is cached per scope") {
    RegistryClient client(config_for({host}));
    CHECK(client.get_manifest(host, kRepo, "latest", good).digest == manifest_digest(*fx, "oci-index"));
    CHECK(client.get_manifest(host, kRepo, "amd64", good).digest == manifest_digest(*fx, "oci-amd64"));
    CHECK(fetch_blob(client, host, base_layer(*fx)["digest"], good).digest == base_layer(*fx)["digest"]);
    auto tokens = token_requests();
    REQUIRE(tokens.size() == 1);
    CHECK(tokens[0]["method"] == "GET");
    CHECK(tokens[0]["authorization"] == "Basic");
    CHECK(tokens[0]["path"].get<std::string>().find("scope=repository%3Alibrary%2Fbusybox%3Apull") !=
          std::string::npos);
    // Later requests carried the token from the start: one 401 in total.
    int unauthorized = 0;
    for (const auto& r : requests(*fx, "/v2/")) unauthorized += r["status"] == 401;
    CHECK(unauthorized == 1);

    // Other credentials never reuse that token.
    Credentials other;
    other.username = good.username;
    other.password = "wrong";
    std::string message;
    CHECK(code_of([&] { client.get_manifest(host, kRepo, "latest", other); }, message) == Errc::invalid_argument);
    CHECK(message.starts_with("authentication to " + host + " failed: token server"));
    CHECK(message.find("401") != std::string::npos);
    CHECK(token_requests().size() == 2);
  }

  SUBCASE("identity token (oauth2 refresh_token grant)") {
    RegistryClient client(config_for({host}));
    Credentials refresh;
    refresh.identity_token = fx->str("identity_token");
    CHECK(client.get_manifest(host, kRepo, "latest", refresh).digest == manifest_digest(*fx, "oci-index"));
    auto tokens = token_requests();
    REQUIRE(tokens.size() == 1);
    CHECK(tokens[0]["method"] == "POST");

    refresh.identity_token = "not-the-refresh-token";
    std::string message;
    CHECK(code_of([&] { client.get_manifest(host, kRepo, "latest", refresh); }, message) == Errc::invalid_argument);
    CHECK(message.find("invalid refresh token") != std::string::npos);
  }

  SUBCASE("registry token used as is") {
    // Fetch a token the way `docker login` tooling would, then hand it over.
    std::string body;
    http::Request request;
    request.url = fx->str("token_url") + "?service=vpcri-test-registry&scope=repository:library/busybox:pull";
    request.headers.push_back("Authorization: Basic " + base64_encode(good.username + ":" + good.password));
    auto result = http::perform(request, [&](const http::Head&, std::string_view chunk) { body.append(chunk); });
    REQUIRE(result.head.status == 200);
    Credentials bearer;
    bearer.registry_token = json::parse(body)["token"];
    fx->clear_request_log();
    RegistryClient client(config_for({host}));
    CHECK(client.get_manifest(host, kRepo, "latest", bearer).digest == manifest_digest(*fx, "oci-index"));
    CHECK(token_requests().empty());

    bearer.registry_token = "garbage";
    std::string message;
    CHECK(code_of([&] { client.get_manifest(host, kRepo, "latest", bearer); }, message) == Errc::invalid_argument);
    CHECK(message.starts_with("authentication to " + host + " failed"));
  }

  SUBCASE("anonymous pull of a private repository is denied without a loop") {
    RegistryClient client(config_for({host}));
    std::string message;
    CHECK(code_of([&] { client.get_manifest(host, kRepo, "latest"); }, message) == Errc::invalid_argument);
    CHECK(message.find("anonymous pull of library/busybox denied") != std::string::npos);
    CHECK(token_requests().size() == 1);
    CHECK(requests(*fx, "/manifests/").size() == 2);
  }
}

TEST_CASE("runtime-registry: concurrent pulls share one client") {
  auto* fx = &shared("token");
  const std::string host = fx->proxy_host();
  RegistryClient client(config_for({host}));
  Credentials creds;
  creds.username = fx->str("user");
  creds.password = fx->str("password");
  json layers = images(*fx)["layers"];
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < layers.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        std::string digest = layers[i]["digest"];
        if (client.get_manifest(host, kRepo, "latest", creds).digest == manifest_digest(*fx, "oci-index") &&
            fetch_blob(client, host, digest, creds).digest == digest) {
          ++ok;
        }
      } catch (const std::exception&) {
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == static_cast<int>(layers.size()));
}

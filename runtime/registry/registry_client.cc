#include "runtime/registry/registry_client.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "metrics/registry.h"
#include "runtime/registry/digest.h"
#include "runtime/registry/http.h"
#include "runtime/registry/www_authenticate.h"

namespace vpcri::runtime::registry {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxManifestBytes = 4 << 20;  // far above real manifests; bounds memory per pull
constexpr size_t kMaxSmallBody = 1 << 20;      // token answers
constexpr size_t kMaxErrorBody = 16 << 10;     // only read for the error message
constexpr auto kMaxBackoff = std::chrono::milliseconds(10000);
constexpr auto kMaxRetryAfter = std::chrono::milliseconds(30000);

constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

bool is_manifest_type(const std::string& type) {
  return type == kOciIndex || type == kOciManifest || type == kDockerList || type == kDockerManifest;
}

struct Endpoint {
  std::string base;  // "https://registry-1.docker.io", no trailing slash
  std::string label() const { return http::host_of(base); }
};

std::string mirror_base(std::string url) {
  if (url.find("://") == std::string::npos) url = "https://" + url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.ends_with("/v2")) url.resize(url.size() - 3);  // we add /v2/ ourselves
  return url;
}

// Inputs end up in URLs: only what the distribution spec allows gets through.
void check_host(const std::string& host) {
  bool ok = !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
  if (!ok) throw Error(Errc::invalid_argument, "invalid registry host \"" + host + "\"");
}

void check_repository(const std::string& repository) {
  bool ok = !repository.empty() && repository.front() != '/' && repository.back() != '/' &&
            repository.find("//") == std::string::npos &&
            std::all_of(repository.begin(), repository.end(), [](unsigned char c) {
              return std::islower(c) || std::isdigit(c) || c == '.' || c == '_' || c == '-' || c == '/';
            });
  for (size_t start = 0; ok && start < repository.size();) {
    size_t end = repository.find('/', start);
    if (end == std::string::npos) end = repository.size();
    std::string_view part(repository.data() + start, end - start);
    ok = part != "." && part != "..";
    start = end + 1;
  }
  if (!ok) throw Error(Errc::invalid_argument, "invalid repository name \"" + repository + "\"");
}

bool is_tag(const std::string& reference) {
  if (reference.empty() || reference.size() > 128 || reference.front() == '.' || reference.front() == '-') {
    return false;
  }
  return std::all_of(reference.begin(), reference.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

std::string strip_params(const std::string& content_type) {
  std::string type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  return type;
}

// "CODE: message" from a distribution error body, else the start of the body.
std::string registry_error_text(const std::string& body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("errors") && doc["errors"].is_array() && !doc["errors"].empty()) {
    std::string out;
    for (const auto& e : doc["errors"]) {
      if (!e.is_object()) continue;
      if (!out.empty()) out += "; ";
      out += e.value("code", std::string("ERROR")) + ": " + e.value("message", std::string());
    }
    if (!out.empty()) return out;
  }
  if (doc.is_object() && doc.contains("details") && doc["details"].is_string()) return doc["details"];
  std::string text = body.substr(0, 200);
  std::replace_if(text.begin(), text.end(), [](unsigned char c) { return c < 0x20; }, ' ');
  return text.empty() ? "empty body" : text;
}

struct UserPassword {
  std::string user, password;
};

std::optional<UserPassword> user_password(const Credentials& creds) {
  if (!creds.username.empty()) return UserPassword{creds.username, creds.password};
  if (creds.auth.empty()) return std::nullopt;
  auto decoded = base64_decode(creds.auth);
  size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) {
    throw Error(Errc::invalid_argument, "credentials: \"auth\" is not base64 of \"user:password\"");
  }
  return UserPassword{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::string credentials_fingerprint(const Credentials& c) {
  std::string all = c.username + '\0' + c.password + '\0' + c.auth + '\0' + c.identity_token + '\0' + c.registry_token;
  return digest_of(all);
}

bool retryable_status(long status) { return status == 429 || status >= 500; }

// A body handler that keeps the start of an error answer for the message.
void keep_error_body(std::string& out, std::string_view chunk) {
  if (out.size() < kMaxErrorBody) out.append(chunk.substr(0, kMaxErrorBody - out.size()));
}

std::string token_key(const Endpoint& ep, const Challenge& challenge, const std::string& scope,
                      const Credentials& creds) {
  return ep.base + "|" + challenge.param("realm") + "|" + challenge.param("service") + "|" + scope + "|" +
         credentials_fingerprint(creds);
}

}  // namespace

struct RegistryClient::Impl {
  ClientConfig config;
  std::mutex mutex;
  std::map<std::string, Challenge> challenges;  // endpoint base -> the auth it asked for last
  struct Token {
    std::string value;
    Clock::time_point valid_until;
  };
  std::map<std::string, Token> tokens;  // token_key() -> token

  explicit Impl(ClientConfig c) : config(std::move(c)) {}

  std::vector<Endpoint> endpoints(const std::string& host) const {
    std::vector<Endpoint> out;
    HostConfig host_config;
    if (auto it = config.hosts.find(host); it != config.hosts.end()) host_config = it->second;
    for (const auto& m : host_config.mirrors) out.push_back({mirror_base(m)});
    if (!host_config.skip_host) {
      std::string real = (host == "docker.io" || host == "index.docker.io") ? "registry-1.docker.io" : host;
      out.push_back({(host_config.insecure_http ? "http://" : "https://") + real});
    }
    if (out.empty()) {
      throw Error(Errc::invalid_argument,
                  "registry " + host + " has skip_host set and no mirrors: nowhere to pull from");
    }
    return out;
  }

  std::chrono::milliseconds backoff(int attempt, const http::Head* head) const {
    std::chrono::milliseconds delay = config.initial_backoff * (1LL << std::min(attempt - 1, 16));
    delay = std::min<std::chrono::milliseconds>(delay, kMaxBackoff);
    thread_local std::minstd_rand rng{std::random_device{}()};
    delay = delay * std::uniform_int_distribution<int>(80, 120)(rng) / 100;  // spread synchronized retries
    if (head) {
      std::string retry_after = head->header("retry-after");
      bool seconds = !retry_after.empty() && retry_after.size() < 6 &&
                     std::all_of(retry_after.begin(), retry_after.end(), [](unsigned char c) { return std::isdigit(c); });
      if (seconds) {  // the HTTP-date form is not worth parsing here
        auto wanted = std::chrono::milliseconds(std::stoll(retry_after) * 1000);
        delay = std::max<std::chrono::milliseconds>(delay, std::min<std::chrono::milliseconds>(wanted, kMaxRetryAfter));
      }
    }
    return delay;
  }

  // Performs the request `make_request` builds, again on connection errors, 429 and 5xx, with
  // backoff, up to max_attempts (an attempt that delivered new bytes, see `progress`, resets
  // the count). Returns the first answer not worth retrying, or the last 429/5xx answer;
  // throws unavailable when the last attempt failed in transport.
  http::Result perform_retrying(const std::function<http::Request()>& make_request, const http::BodyHandler& on_body,
                                const std::string& label, const std::function<int64_t()>& progress = nullptr) {
    int failures = 0;
    while (true) {
      http::Request request = make_request();
      int64_t before = progress ? progress() : 0;
      http::Result result = http::perform(request, on_body);
      bool failed = result.failed() || retryable_status(result.head.status);
      if (!failed) return result;
      if (progress && progress() > before) failures = 0;
      ++failures;
      std::string what = result.failed()
                             ? result.error
                             : "answered " + std::to_string(result.head.status) + " to " + request.method + " " +
                                   request.url;
      if (failures >= std::max(1, config.max_attempts)) {
        std::string attempts = std::to_string(failures) + (failures == 1 ? " attempt" : " attempts");
        if (result.failed()) {
          // A status means the server answered and the body transfer broke.
          std::string where = result.head.status != 0 ? "transfer from registry " + label + " failed: "
                                                      : "cannot reach registry " + label + ": ";
          throw Error(Errc::unavailable, where + what + " (after " + attempts + ")");
        }
        return result;  // the caller words the final HTTP error
      }
      auto delay = backoff(failures, result.failed() ? nullptr : &result.head);
      log::info("registry request failed, retrying",
                {{"registry", label}, {"error", what}, {"retry_in_ms", std::to_string(delay.count())}});
      std::this_thread::sleep_for(delay);
    }
  }

  std::string fetch_token(const Endpoint& ep, const Challenge& challenge, const std::string& scope,
                          const Credentials& creds, std::chrono::seconds& expires_in) {
    std::string realm = challenge.param("realm");
    if (realm.rfind("https://", 0) != 0 && realm.rfind("http://", 0) != 0) {
      throw Error(Errc::invalid_argument,
                  "registry " + ep.label() + " sent a Bearer challenge without a usable realm: \"" + realm + "\"");
    }
    std::string service = challenge.param("service");
    http::Request request;
    request.connect_timeout = config.connect_timeout;
    request.total_timeout = config.request_timeout;
    std::string query = "service=" + http::url_encode(service) + "&scope=" + http::url_encode(scope);
    if (!creds.identity_token.empty()) {
      // OAuth2 refresh-token grant (distribution spec auth/oauth).
      request.method = "POST";
      request.url = realm;
      request.headers.push_back("Content-Type: application/x-www-form-urlencoded");
      request.body = "grant_type=refresh_token&client_id=vpcri&" + query +
                     "&refresh_token=" + http::url_encode(creds.identity_token);
    } else {
      request.url = realm + (realm.find('?') == std::string::npos ? "?" : "&") + query;
      if (auto up = user_password(creds)) {
        request.headers.push_back("Authorization: Basic " + base64_encode(up->user + ":" + up->password));
      }
    }
    std::string body;
    auto result = perform_retrying([&] { body.clear(); return request; },
                                   [&](const http::Head&, std::string_view chunk) {
                                     if (body.size() + chunk.size() > kMaxSmallBody) {
                                       throw Error(Errc::invalid_argument, "token server " + http::host_of(realm) +
                                                                               " answered more than 1 MiB");
                                     }
                                     body.append(chunk);
                                   },
                                   http::host_of(realm));
    long status = result.head.status;
    if (status == 401 || status == 403) {
      throw Error(Errc::invalid_argument, "authentication to " + ep.label() + " failed: token server " + realm +
                                              " answered " + std::to_string(status) + ": " + registry_error_text(body));
    }
    if (status != 200) {
      throw Error(status >= 500 || status == 429 ? Errc::unavailable : Errc::invalid_argument,
                  "token server " + realm + " answered " + std::to_string(status) + ": " + registry_error_text(body));
    }
    auto doc = nlohmann::json::parse(body, nullptr, false);
    std::string token;
    if (doc.is_object()) {
      if (doc.contains("token") && doc["token"].is_string()) token = doc["token"];
      if (token.empty() && doc.contains("access_token") && doc["access_token"].is_string()) token = doc["access_token"];
    }
    if (token.empty()) {
      throw Error(Errc::invalid_argument,
                  "token server " + realm + " answered without a token: " + body.substr(0, 200));
    }
    expires_in = std::chrono::seconds(60);  // the spec's default
    if (doc.contains("expires_in") && doc["expires_in"].is_number_integer() && doc["expires_in"].get<int64_t>() > 0) {
      expires_in = std::chrono::seconds(doc["expires_in"].get<int64_t>());
    }
    return token;
  }

  struct Authorization {
    std::string header;  // the Authorization header value
    bool fresh = false;  // a token fetched just now (not from the cache)
  };

  // Authorization for `challenge`: a cached or new Bearer token for `scope`, or Basic.
  Authorization authorize(const Endpoint& ep, const Challenge& challenge, const std::string& scope,
                          const Credentials& creds) {
    if (challenge.scheme == "basic") {
      auto up = user_password(creds);
      if (!up) {
        throw Error(Errc::invalid_argument,
                    "registry " + ep.label() + " requires authentication and no credentials were given");
      }
      return {"Basic " + base64_encode(up->user + ":" + up->password), false};
    }
    std::string key = token_key(ep, challenge, scope, creds);
    {
      std::lock_guard lock(mutex);
      auto it = tokens.find(key);
      if (it != tokens.end() && Clock::now() < it->second.valid_until) return {"Bearer " + it->second.value, false};
    }
    std::chrono::seconds expires_in{};
    std::string token = fetch_token(ep, challenge, scope, creds, expires_in);
    // Renew a little early so a token does not expire between our check and the registry's.
    auto margin = std::min<std::chrono::seconds>(std::chrono::seconds(10), expires_in / 10);
    std::lock_guard lock(mutex);
    tokens[key] = Token{token, Clock::now() + expires_in - margin};
    return {"Bearer " + token, true};
  }

  void forget_token(const Endpoint& ep, const Challenge& challenge, const std::string& scope,
                    const Credentials& creds) {
    std::lock_guard lock(mutex);
    tokens.erase(token_key(ep, challenge, scope, creds));
  }

  struct Answer {
    http::Head head;
    std::string error_body;  // for non-2xx answers
  };

  // One GET of `path` from `ep` with authentication: credentials are sent up front when the
  // endpoint asked for them before; a 401 triggers (re)authentication at most twice, never a
  // loop. Retries as perform_retrying. 2xx bodies go to on_success; other answers are returned.
  Answer exchange(const Endpoint& ep, const std::string& path, const std::string& repository, const Credentials& creds,
                  const std::function<void(http::Request&)>& prepare, const http::BodyHandler& on_success,
                  const std::function<int64_t()>& progress = nullptr) {
    const std::string url = ep.base + path;
    const std::string default_scope = "repository:" + repository + ":pull";
    // What the next request carries; a 401 to credentials that cannot get any better (the
    // given token, Basic, a token fetched just now for the scope asked) is final.
    std::string authorization, sent_scheme, fresh_scope;
    const bool given_token = !creds.registry_token.empty();
    if (given_token) {
      authorization = "Bearer " + creds.registry_token;
    } else {
      std::optional<Challenge> known;
      {
        std::lock_guard lock(mutex);
        if (auto it = challenges.find(ep.base); it != challenges.end()) known = it->second;
      }
      if (known && (known->scheme == "bearer" || user_password(creds))) {
        Authorization auth = authorize(ep, *known, default_scope, creds);
        authorization = auth.header;
        sent_scheme = known->scheme;
        fresh_scope = auth.fresh ? default_scope : "";
      }
    }
    int auth_rounds = 0;
    while (true) {
      std::string error_body;
      auto result = perform_retrying(
          [&] {
            error_body.clear();
            http::Request request;
            request.url = url;
            request.connect_timeout = config.connect_timeout;
            if (!authorization.empty()) request.headers.push_back("Authorization: " + authorization);
            prepare(request);
            return request;
          },
          [&](const http::Head& head, std::string_view chunk) {
            if (head.status >= 200 && head.status < 300) {
              on_success(head, chunk);
            } else {
              keep_error_body(error_body, chunk);
            }
          },
          ep.label(), progress);
      long status = result.head.status;
      if (status != 401) {
        if (retryable_status(status)) {
          throw Error(Errc::unavailable, "registry " + ep.label() + " answered " + std::to_string(status) + " to GET " +
                                             url + " (after " + std::to_string(std::max(1, config.max_attempts)) +
                                             " attempts): " + registry_error_text(error_body));
        }
        return Answer{std::move(result.head), std::move(error_body)};
      }
      auto offered = parse_www_authenticate(result.head.header("www-authenticate"));
      auto pick = std::find_if(offered.begin(), offered.end(), [](const Challenge& c) { return c.scheme == "bearer"; });
      if (pick == offered.end()) {
        pick = std::find_if(offered.begin(), offered.end(), [](const Challenge& c) { return c.scheme == "basic"; });
      }
      if (pick == offered.end()) {
        throw Error(Errc::invalid_argument, "registry " + ep.label() +
                                                " answered 401 without a usable WWW-Authenticate challenge (got \"" +
                                                result.head.header("www-authenticate") + "\")");
      }
      std::string scope = pick->param("scope").empty() ? default_scope : pick->param("scope");
      bool anonymous = creds.username.empty() && creds.auth.empty() && creds.identity_token.empty() &&
                       creds.registry_token.empty();
      bool final = given_token || (pick->scheme == "basic" && sent_scheme == "basic") ||
                   (pick->scheme == "bearer" && sent_scheme == "bearer" && fresh_scope == scope) || ++auth_rounds > 2;
      if (final) {
        std::string why = registry_error_text(error_body);
        if (anonymous) {
          throw Error(Errc::invalid_argument, "authentication to " + ep.label() + " failed: anonymous pull of " +
                                                  repository + " denied (repository missing or credentials required): " +
                                                  why);
        }
        throw Error(Errc::invalid_argument, "authentication to " + ep.label() + " failed: the registry rejected the "
                                                "credentials for " + scope + ": " + why);
      }
      {
        std::lock_guard lock(mutex);
        challenges[ep.base] = *pick;
      }
      forget_token(ep, *pick, scope, creds);
      Authorization auth = authorize(ep, *pick, scope, creds);
      authorization = auth.header;
      sent_scheme = pick->scheme;
      fresh_scope = auth.fresh ? scope : "";
    }
  }

  // Tries each endpoint of `host` in order; a failing mirror passes to the next endpoint.
  // `fetch` throws vpcri::Error on failure; the last endpoint's error is the one reported.
  template <typename Fn>
  void over_endpoints(const std::string& host, const Fn& fetch, const bool& stop_falling_through) {
    auto list = endpoints(host);
    for (size_t i = 0; i < list.size(); ++i) {
      try {
        fetch(list[i]);
        return;
      } catch (const Error& e) {
        if (i + 1 == list.size() || stop_falling_through) throw;
        log::warn("registry endpoint failed, trying the next one",
                  {{"host", host}, {"endpoint", list[i].label()}, {"error", e.what()}});
      }
    }
  }
};

RegistryClient::RegistryClient(ClientConfig config) : impl_(new Impl(std::move(config))) {}

RegistryClient::~RegistryClient() { delete impl_; }

Manifest RegistryClient::get_manifest(const std::string& host, const std::string& repository,
                                      const std::string& reference, const Credentials& creds) {
  check_host(host);
  check_repository(repository);
  const bool by_digest = reference.find(':') != std::string::npos;
  if (by_digest ? !is_valid_digest(reference) : !is_tag(reference)) {
    throw Error(Errc::invalid_argument,
                "invalid manifest reference \"" + reference + "\" (want a tag or sha256:<hex>)");
  }
  const std::string name = host + "/" + repository + (by_digest ? "@" : ":") + reference;
  Manifest manifest;
  const bool never = false;
  impl_->over_endpoints(host, [&](const Endpoint& ep) {
    std::string body;
    auto answer = impl_->exchange(
        ep, "/v2/" + repository + "/manifests/" + reference, repository, creds,
        [&](http::Request& request) {
          body.clear();
          request.total_timeout = impl_->config.request_timeout;
          request.headers.push_back(std::string("Accept: ") + kOciIndex + ", " + kOciManifest + ", " + kDockerList +
                                    ", " + kDockerManifest);
        },
        [&](const http::Head& head, std::string_view chunk) {
          std::string length = head.header("content-length");
          if (body.size() + chunk.size() > kMaxManifestBytes ||
              (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > kMaxManifestBytes)) {
            throw Error(Errc::invalid_argument, "manifest " + name + " from " + ep.label() + " is larger than " +
                                                    std::to_string(kMaxManifestBytes >> 20) + " MiB");
          }
          body.append(chunk);
        });
    long status = answer.head.status;
    if (status == 404) throw Error(Errc::not_found, "manifest unknown: " + name);
    if (status == 403) {
      throw Error(Errc::invalid_argument, "access to " + name + " denied by " + ep.label() + ": " +
                                              registry_error_text(answer.error_body));
    }
    if (status != 200) {
      throw Error(Errc::invalid_argument, "registry " + ep.label() + " answered " + std::to_string(status) +
                                              " for manifest " + name + ": " + registry_error_text(answer.error_body));
    }
    const std::string where = " (" + name + " from " + ep.label() + ")";
    std::string said = answer.head.header("docker-content-digest");
    if (!said.empty() && is_valid_digest(said)) {
      std::string actual = digest_of(body, said.substr(0, said.find(':')));
      if (actual != said) {
        throw Error(Errc::invalid_argument,
                    "manifest digest mismatch: registry said " + said + ", content is " + actual + where);
      }
    }
    if (by_digest) {
      std::string actual = digest_of(body, reference.substr(0, reference.find(':')));
      if (actual != reference) {
        throw Error(Errc::invalid_argument,
                    "manifest digest mismatch: requested " + reference + ", content is " + actual + where);
      }
    }
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (!doc.is_object()) throw Error(Errc::invalid_argument, "malformed manifest: not a JSON object" + where);
    std::string type;
    if (doc.contains("mediaType") && doc["mediaType"].is_string()) type = doc["mediaType"];
    if (type.empty()) type = strip_params(answer.head.header("content-type"));
    if (!is_manifest_type(type)) {
      // OCI made mediaType optional at first: recognize such documents by their shape.
      if (doc.contains("manifests")) {
        type = kOciIndex;
      } else if (doc.contains("config") && doc.contains("layers")) {
        type = kOciManifest;
      } else {
        throw Error(Errc::invalid_argument, "unsupported manifest media type \"" + type + "\"" + where +
                                                ": only OCI and Docker schema 2 images are supported");
      }
    }
    manifest = Manifest{type, digest_of(body), std::move(body)};
  }, never);
  return manifest;
}

namespace {

void count_blob_bytes(size_t bytes) {
  static auto& received = metrics::global()
                              .counter("vpcri_image_pull_bytes_total",
                                       "Blob bytes (layers, configs) received from registries and mirrors.")
                              .with({});
  received.inc(static_cast<double>(bytes));
}

}  // namespace

void RegistryClient::get_blob(const std::string& host, const std::string& repository, const std::string& digest,
                              const BlobSink& sink, const Credentials& creds, const Progress& progress) {
  check_host(host);
  check_repository(repository);
  if (!is_valid_digest(digest)) {
    throw Error(Errc::invalid_argument, "invalid blob digest \"" + digest + "\" (want sha256:<64 hex>)");
  }
  const std::string name = host + "/" + repository + "@" + digest;
  int64_t delivered = 0;   // bytes the sink has; survives retries and endpoints
  int64_t total = -1;
  bool sink_failed = false;  // a throwing sink ends the pull: never retried or passed to a mirror
  impl_->over_endpoints(host, [&](const Endpoint& ep) {
    int64_t asked_from = 0;  // Range start of the current attempt
    int64_t skip = 0;        // bytes to drop from a 200 answer to a Range request
    bool first_chunk = true;
    auto answer = impl_->exchange(
        ep, "/v2/" + repository + "/blobs/" + digest, repository, creds,
        [&](http::Request& request) {
          request.low_speed_time = impl_->config.low_speed_timeout;
          asked_from = delivered;
          first_chunk = true;
          if (delivered > 0) request.range_from = delivered;
        },
        [&](const http::Head& head, std::string_view chunk) {
          if (first_chunk) {
            first_chunk = false;
            skip = 0;
            if (head.status == 206) {
              // "bytes START-END/TOTAL": must start where we asked, or bytes would be lost or doubled.
              std::string range = head.header("content-range");
              size_t space = range.find(' ');
              int64_t start = space == std::string::npos ? -1 : std::strtoll(range.c_str() + space + 1, nullptr, 10);
              if (start != asked_from) {
                throw Error(Errc::invalid_argument, "blob " + name + " from " + ep.label() + ": asked for bytes " +
                                                        std::to_string(asked_from) + "-, got \"" + range + "\"");
              }
              size_t slash = range.find('/');
              if (slash != std::string::npos && range.compare(slash + 1, std::string::npos, "*") != 0) {
                total = std::strtoll(range.c_str() + slash + 1, nullptr, 10);
              }
            } else {
              // A full answer (first try, or a server that ignores Range): drop what the sink has.
              skip = asked_from;
              std::string length = head.header("content-length");
              if (!length.empty()) total = std::strtoll(length.c_str(), nullptr, 10);
            }
          }
          if (skip > 0) {
            size_t dropped = static_cast<size_t>(std::min<int64_t>(skip, static_cast<int64_t>(chunk.size())));
            chunk.remove_prefix(dropped);
            skip -= static_cast<int64_t>(dropped);
            if (chunk.empty()) return;
          }
          try {
            sink(chunk.data(), chunk.size());
          } catch (...) {
            sink_failed = true;
            throw;
          }
          delivered += static_cast<int64_t>(chunk.size());
          count_blob_bytes(chunk.size());
          if (progress) progress(delivered, total);
        },
        [&] { return delivered; });
    long status = answer.head.status;
    if (status == 416 && total >= 0 && delivered >= total) return;  // everything arrived before the cut
    if (status == 404) throw Error(Errc::not_found, "blob unknown: " + name);
    if (status == 403) {
      throw Error(Errc::invalid_argument, "access to " + name + " denied by " + ep.label() + ": " +
                                              registry_error_text(answer.error_body));
    }
    if (status != 200 && status != 206) {
      throw Error(Errc::invalid_argument, "registry " + ep.label() + " answered " + std::to_string(status) +
                                              " for blob " + name + ": " + registry_error_text(answer.error_body));
    }
    if (total >= 0 && delivered != total) {
      throw Error(Errc::invalid_argument, "blob " + name + " from " + ep.label() + " ended after " +
                                              std::to_string(delivered) + " of " + std::to_string(total) + " bytes");
    }
  }, sink_failed);
}

}  // namespace vpcri::runtime::registry

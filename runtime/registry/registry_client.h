// Client for the OCI distribution API (registries): manifests and blobs, token and basic auth,
// mirrors, plain-HTTP registries, retries. Knows nothing of where blobs are stored: blob bytes
// go to a sink, which verifies and stores them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vpcri::runtime::registry {

// Where to fetch a registry host's content from, e.g. docker.io -> http://127.0.0.1:5000.
struct HostConfig {
  std::vector<std::string> mirrors;  // endpoints tried in order before the host itself: "http://h:p" or "https://h"
  bool insecure_http = false;        // talk plain HTTP to the host itself
  bool skip_host = false;            // only use the mirrors (air-gapped nodes)
};

struct ClientConfig {
  std::map<std::string, HostConfig> hosts;  // keyed by registry host as in references ("docker.io", "127.0.0.1:5000")
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds request_timeout{60000};  // for manifests and token requests
  std::chrono::milliseconds low_speed_timeout{30000}; // a blob transfer stalled this long fails
  int max_attempts = 4;                                // on 5xx, 429 and connection errors, with backoff
  std::chrono::milliseconds initial_backoff{200};
};

// CRI AuthConfig, as given to PullImage.
struct Credentials {
  std::string username, password;
  std::string auth;            // base64("user:password"); used when username is empty
  std::string identity_token;  // refresh token for the token endpoint
  std::string registry_token;  // bearer token used as is
};

struct Manifest {
  std::string media_type;  // from Content-Type, or the document's mediaType
  std::string digest;      // "sha256:<hex>" of the bytes, verified against Docker-Content-Digest
  std::string body;
};

// Called with blob bytes as they arrive; throwing aborts the transfer.
using BlobSink = std::function<void(const char* data, size_t size)>;
// Called after each chunk with (bytes so far, total or -1).
using Progress = std::function<void(int64_t done, int64_t total)>;

class RegistryClient {
 public:
  explicit RegistryClient(ClientConfig config);
  ~RegistryClient();

  // `host` and `repository` as in a normalized reference ("docker.io", "library/busybox");
  // `reference` is a tag or a digest. Accepts OCI index/manifest and Docker v2 schema 2
  // list/manifest. Errors: vpcri::Error with not_found (unknown manifest/repo),
  // invalid_argument (denied auth, malformed answer), unavailable (unreachable after retries).
  Manifest get_manifest(const std::string& host, const std::string& repository, const std::string& reference,
                        const Credentials& creds = {});

  // Streams blob `digest` ("sha256:<hex>") to `sink`. A retry after a partial transfer restarts
  // with a Range request when the server supports it, so the sink sees each byte once.
  void get_blob(const std::string& host, const std::string& repository, const std::string& digest,
                const BlobSink& sink, const Credentials& creds = {}, const Progress& progress = nullptr);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace vpcri::runtime::registry

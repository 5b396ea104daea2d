// InstanceMetadata over IMDSv2: a session token from PUT /latest/api/token (TTL header), then
// GETs under /latest/meta-data/ carrying it. The token is cached and fetched again before its
// TTL runs out or when IMDS answers 401; 5xx and transport failures are retried with backoff;
// a 404 on an optional key means "none". IMDSv1 (a GET without a token) is never sent.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "net/aws/backoff.h"
#include "net/aws/http_transport.h"
#include "net/aws/instance_metadata.h"

namespace vpcri::net::aws {

struct ImdsClientOptions {
  std::string endpoint = "http://169.254.169.254";
  std::chrono::seconds token_ttl{21600};  // IMDS's maximum (6 h)
  int max_retries = 3;
  Backoff backoff{std::chrono::milliseconds(100), std::chrono::milliseconds(2000), {}};
  std::function<std::chrono::steady_clock::time_point()> now;  // token expiry clock; empty: steady_clock
};

class ImdsClient : public InstanceMetadata {
 public:
  ImdsClient(std::shared_ptr<HttpTransport> transport, ImdsClientOptions options);

  InstanceIdentity identity() override;
  std::vector<MetadataEni> enis() override;
  std::optional<Credentials> role_credentials() override;

  // GET /latest/meta-data/<path>: the body, or nullopt on 404. Other failures throw
  // Error(unavailable).
  std::optional<std::string> get(const std::string& path);
  std::string get_required(const std::string& path);

 private:
  std::string session_token();
  std::chrono::steady_clock::time_point now() const;
  [[noreturn]] void fail(const std::string& what, const std::string& why) const;

  std::shared_ptr<HttpTransport> transport_;
  ImdsClientOptions options_;
  std::mutex mutex_;
  std::string token_;
  std::chrono::steady_clock::time_point token_refresh_at_;
};

// Splits an IMDS listing ("a\nb/\n") into its lines, trailing '/' and blanks removed.
std::vector<std::string> imds_lines(const std::string& body);

}  // namespace vpcri::net::aws

#include "net/aws/imds_client.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/log.h"
#include "common/text.h"
#include "net/aws/aws_time.h"
#include "net/aws/ec2_api.h"

namespace vpcri::net::aws {
namespace {

constexpr const char* kTokenHeader = "X-aws-ec2-metadata-token";
constexpr const char* kTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";

bool retryable_status(long status) { return status >= 500 || status == 429; }

}  // namespace

std::vector<std::string> imds_lines(const std::string& body) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    std::string line = trim(std::string_view(body).substr(start, end - start));
    while (line.ends_with("/")) line.pop_back();
    if (!line.empty()) lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

ImdsClient::ImdsClient(std::shared_ptr<HttpTransport> transport, ImdsClientOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {
  while (options_.endpoint.ends_with("/")) options_.endpoint.pop_back();
}

std::chrono::steady_clock::time_point ImdsClient::now() const {
  return options_.now ? options_.now() : std::chrono::steady_clock::now();
}

void ImdsClient::fail(const std::string& what, const std::string& why) const {
  throw Error(Errc::unavailable, "instance metadata " + what + " (" + options_.endpoint + "): " + why);
}

std::string ImdsClient::session_token() {
  std::lock_guard lock(mutex_);
  if (!token_.empty() && now() < token_refresh_at_) return token_;
  token_.clear();
  HttpRequest request;
  request.method = "PUT";
  request.url = options_.endpoint + "/latest/api/token";
  request.headers = {{kTtlHeader, std::to_string(options_.token_ttl.count())}};
  for (int attempt = 0;; ++attempt) {
    std::string why;
    try {
      HttpResponse response = transport_->send(request);
      if (response.status == 200 && !trim(response.body).empty()) {
        token_ = trim(response.body);
        // Fetch a new one well before IMDS stops accepting this one.
        token_refresh_at_ = now() + options_.token_ttl - std::min<std::chrono::seconds>(options_.token_ttl / 10, std::chrono::seconds(300));
        return token_;
      }
      why = "HTTP " + std::to_string(response.status);
      if (!retryable_status(response.status)) fail("token", why + " (is IMDSv2 enabled and the hop limit high enough?)");
    } catch (const Ec2Error& transport_error) {
      why = transport_error.what();
    }
    if (attempt >= options_.max_retries) fail("token", why);
    options_.backoff.wait(attempt);
  }
}

std::optional<std::string> ImdsClient::get(const std::string& path) {
  std::string url = options_.endpoint + "/latest/meta-data/" + path;
  bool renewed_after_401 = false;
  for (int attempt = 0;; ++attempt) {
    HttpRequest request;
    request.url = url;
    request.headers = {{kTokenHeader, session_token()}};
    std::string why;
    try {
      HttpResponse response = transport_->send(request);
      if (response.status == 200) return response.body;
      if (response.status == 404) return std::nullopt;
      if (response.status == 401 && !renewed_after_401) {
        // The token expired or IMDS restarted: a new one, and this GET once more, at once.
        std::lock_guard lock(mutex_);
        token_.clear();
        renewed_after_401 = true;
        --attempt;
        continue;
      }
      why = "HTTP " + std::to_string(response.status);
      if (!retryable_status(response.status)) fail(path, why);
    } catch (const Ec2Error& transport_error) {
      why = transport_error.what();
    }
    if (attempt >= options_.max_retries) fail(path, why);
    options_.backoff.wait(attempt);
  }
}

std::string ImdsClient::get_required(const std::string& path) {
  auto value = get(path);
  if (!value) fail(path, "not found (404)");
  return trim(*value);
}

InstanceIdentity ImdsClient::identity() {
  InstanceIdentity identity;
  identity.instance_id = get_required("instance-id");
  identity.instance_type = get_required("instance-type");
  identity.availability_zone = get_required("placement/availability-zone");
  auto region = get("placement/region");
  // Older IMDS versions lack placement/region: the zone minus its letter ("us-east-1a").
  identity.region = region ? trim(*region) : identity.availability_zone.substr(0, identity.availability_zone.size() - 1);
  identity.primary_mac = to_lower(get_required("mac"));
  return identity;
}

std::vector<MetadataEni> ImdsClient::enis() {
  auto listing = get("network/interfaces/macs/");
  if (!listing) fail("network/interfaces/macs/", "not found (404)");
  std::vector<MetadataEni> result;
  for (const std::string& mac : imds_lines(*listing)) {
    std::string base = "network/interfaces/macs/" + mac + "/";
    auto interface_id = get(base + "interface-id");
    auto device_number = get(base + "device-number");
    auto subnet_id = get(base + "subnet-id");
    auto subnet_cidr = get(base + "subnet-ipv4-cidr-block");
    if (!interface_id || !device_number || !subnet_id || !subnet_cidr) {
      // An ENI being attached shows up before all its keys do: the next pass sees it whole.
      log::warn("instance metadata: ENI not fully described yet; skipped", {{"mac", mac}});
      continue;
    }
    MetadataEni eni;
    eni.mac = to_lower(mac);
    eni.interface_id = trim(*interface_id);
    eni.subnet_id = trim(*subnet_id);
    try {
      eni.device_number = std::stoi(*device_number);
    } catch (const std::exception&) {
      fail(base + "device-number", "not a number: " + *device_number);
    }
    auto cidr = Cidr::parse(trim(*subnet_cidr));
    if (!cidr) fail(base + "subnet-ipv4-cidr-block", "not a CIDR: " + *subnet_cidr);
    eni.subnet_cidr = *cidr;
    for (const auto& line : imds_lines(get(base + "local-ipv4s").value_or(""))) {
      auto ip = IpAddress::parse(line);
      if (!ip) fail(base + "local-ipv4s", "not an address: " + line);
      eni.local_ipv4s.push_back(*ip);
    }
    for (const auto& line : imds_lines(get(base + "ipv4-prefix").value_or(""))) {
      auto prefix = Cidr::parse(line);
      if (!prefix) fail(base + "ipv4-prefix", "not a CIDR: " + line);
      eni.ipv4_prefixes.push_back(*prefix);
    }
    for (const auto& line : imds_lines(get(base + "vpc-ipv4-cidr-blocks").value_or(""))) {
      auto vpc_cidr = Cidr::parse(line);
      if (!vpc_cidr) fail(base + "vpc-ipv4-cidr-blocks", "not a CIDR: " + line);
      eni.vpc_cidrs.push_back(*vpc_cidr);
    }
    eni.security_group_ids = imds_lines(get(base + "security-group-ids").value_or(""));
    result.push_back(std::move(eni));
  }
  std::sort(result.begin(), result.end(),
            [](const MetadataEni& a, const MetadataEni& b) { return a.device_number < b.device_number; });
  return result;
}

std::optional<Credentials> ImdsClient::role_credentials() {
  auto roles = get("iam/security-credentials/");
  if (!roles) return std::nullopt;
  auto names = imds_lines(*roles);
  if (names.empty()) return std::nullopt;
  std::string path = "iam/security-credentials/" + names.front();
  std::string body = get_required(path);
  nlohmann::json document = nlohmann::json::parse(body, nullptr, false);
  if (!document.is_object()) fail(path, "not JSON");
  auto text = [&](const char* key) {
    auto it = document.find(key);
    return it != document.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (!text("Code").empty() && text("Code") != "Success") fail(path, "Code " + text("Code") + ": " + text("Message"));
  Credentials credentials{text("AccessKeyId"), text("SecretAccessKey"), text("Token"), std::nullopt};
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) fail(path, "no AccessKeyId/SecretAccessKey");
  if (!text("Expiration").empty()) {
    credentials.expiration = parse_iso8601_utc(text("Expiration"));
    if (!credentials.expiration) fail(path, "bad Expiration " + text("Expiration"));
  }
  return credentials;
}

}  // namespace vpcri::net::aws

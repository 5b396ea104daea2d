#include "net/aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <map>
#include <vector>

#include "common/error.h"
#include "common/text.h"

namespace vpcri::net::aws {
namespace {

constexpr const char* kAlgorithm = "AWS4-HMAC-SHA256";

std::string hex(const unsigned char* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xF];
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), digest, &length)) {
    throw Error(Errc::internal, "HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}


// Header values: trimmed, inner runs of spaces collapsed to one.
std::string canonical_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 && hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key = aws_uri_encode(percent_decode(pair.substr(0, eq)));
      std::string value = eq == std::string_view::npos ? "" : aws_uri_encode(percent_decode(pair.substr(eq + 1)));
      params.emplace_back(std::move(key), std::move(value));
    }
    start = end + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out += '&';
    out += key + "=" + value;
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex(digest, sizeof digest);
}

std::string aws_uri_encode(std::string_view text, bool keep_slash) { return percent_encode(text, keep_slash); }


SigV4Signature sigv4_signature(const HttpRequest& request, const Credentials& credentials, const SigV4Scope& scope) {
  std::map<std::string, std::string> headers;  // lower-cased name → values joined by ','
  for (const auto& [name, value] : request.headers) {
    std::string& joined = headers[to_lower(name)];
    if (!joined.empty()) joined += ',';
    joined += canonical_value(value);
  }
  auto date_header = headers.find("x-amz-date");
  if (date_header == headers.end() || date_header->second.size() < 8) {
    throw Error(Errc::invalid_argument, "SigV4: the request has no X-Amz-Date header");
  }
  const std::string& date_time = date_header->second;
  std::string date = date_time.substr(0, 8);

  std::string path_and_query = url_path_and_query(request.url);
  size_t question = path_and_query.find('?');
  std::string path = path_and_query.substr(0, question);
  std::string query = question == std::string::npos ? "" : path_and_query.substr(question + 1);

  SigV4Signature result;
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    if (!result.signed_headers.empty()) result.signed_headers += ';';
    result.signed_headers += name;
  }
  result.canonical_request = request.method + "\n" + aws_uri_encode(percent_decode(path), true) + "\n" +
                             canonical_query(query) + "\n" + canonical_headers + "\n" + result.signed_headers +
                             "\n" + sha256_hex(request.body);
  std::string credential_scope = date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  result.string_to_sign = std::string(kAlgorithm) + "\n" + date_time + "\n" + credential_scope + "\n" +
                          sha256_hex(result.canonical_request);
  std::string key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
  key = hmac_sha256(key, scope.region);
  key = hmac_sha256(key, scope.service);
  key = hmac_sha256(key, "aws4_request");
  std::string signature = hmac_sha256(key, result.string_to_sign);
  result.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                         credential_scope + ", SignedHeaders=" + result.signed_headers +
                         ", Signature=" + hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
  return result;
}

void sign_request(HttpRequest& request, const Credentials& credentials, const SigV4Scope& scope,
                  std::chrono::system_clock::time_point now) {
  std::erase_if(request.headers, [](const auto& header) {
    std::string name = to_lower(header.first);
    return name == "host" || name == "x-amz-date" || name == "x-amz-security-token" || name == "authorization";
  });
  request.headers.emplace_back("Host", url_authority(request.url));
  request.headers.emplace_back("X-Amz-Date", amz_date(now));
  if (!credentials.session_token.empty()) request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  request.headers.emplace_back("Authorization", sigv4_signature(request, credentials, scope).authorization);
}

}  // namespace vpcri::net::aws

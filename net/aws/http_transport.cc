#include "net/aws/http_transport.h"

#include "common/curl_easy.h"
#include "common/error.h"
#include "common/text.h"
#include "net/aws/ec2_api.h"

namespace vpcri::net::aws {
namespace {

using curl::set;

struct Transfer {
  HttpResponse response;
  size_t max_body_bytes = 0;
  bool too_large = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    transfer->response.headers.clear();  // a new response (e.g. after 100 Continue)
    return line.size();
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    transfer->response.headers[to_lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return line.size();
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  if (transfer->response.body.size() + bytes > transfer->max_body_bytes) {
    transfer->too_large = true;
    return 0;  // aborts with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

CurlTransport::CurlTransport(CurlTransportOptions options)
    : options_(std::move(options)), handles_(std::make_unique<curl::HandlePool>(4)) {}

CurlTransport::~CurlTransport() = default;

HttpResponse CurlTransport::send(const HttpRequest& request) {
  curl::PooledHandle pooled(*handles_);
  CURL* h = pooled.get();

  Transfer transfer;
  transfer.max_body_bytes = options_.max_body_bytes;
  curl::HeaderList headers;
  for (const auto& [name, value] : request.headers) headers.add(name + ": " + value);
  headers.add("Expect:");  // no 100-continue round trip for a POST body
  char error_buffer[CURL_ERROR_SIZE] = {};

  set(h, CURLOPT_URL, request.url.c_str());
  set(h, CURLOPT_NOSIGNAL, 1L);  // multi-threaded: no SIGALRM for DNS timeouts
  set(h, CURLOPT_USERAGENT, "vpcri");
  set(h, CURLOPT_PROTOCOLS_STR, "http,https");
  set(h, CURLOPT_FOLLOWLOCATION, 0L);  // AWS APIs never redirect; a redirect is an error answer
  set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  set(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  if (!options_.ca_file.empty()) set(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.use_proxy) set(h, CURLOPT_PROXY, "");
  if (request.method == "POST") {
    set(h, CURLOPT_POSTFIELDS, request.body.c_str());
    set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "PUT") {
    set(h, CURLOPT_CUSTOMREQUEST, "PUT");
    set(h, CURLOPT_POSTFIELDS, request.body.c_str());
    set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    set(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  set(h, CURLOPT_HTTPHEADER, headers.get());
  set(h, CURLOPT_HEADERFUNCTION, &on_header);
  set(h, CURLOPT_HEADERDATA, &transfer);
  set(h, CURLOPT_WRITEFUNCTION, &on_body);
  set(h, CURLOPT_WRITEDATA, &transfer);
  set(h, CURLOPT_ERRORBUFFER, error_buffer);

  CURLcode code = curl_easy_perform(h);
  if (code != CURLE_OK) {
    std::string why = transfer.too_large ? "answer larger than " + std::to_string(options_.max_body_bytes) + " bytes"
                      : error_buffer[0] != '\0' ? std::string(error_buffer)
                                                : std::string(curl_easy_strerror(code));
    throw Ec2Error("", request.method + " " + url_authority(request.url) + ": " + why, 0);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  return std::move(transfer.response);
}

std::string url_authority(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string url_path_and_query(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t path = url.find_first_of("/?", start);
  if (path == std::string::npos) return "/";
  std::string rest = url.substr(path);
  size_t fragment = rest.find('#');
  if (fragment != std::string::npos) rest.resize(fragment);
  if (rest.starts_with("?")) rest.insert(0, "/");
  return rest;
}

}  // namespace vpcri::net::aws

#include "net/aws/http_transport.h"

#include "common/http/client.h"
#include "net/aws/ec2_api.h"

namespace vpcri::net::aws {

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

ClientTransport::ClientTransport(TransportOptions options) : options_(std::move(options)) {
  http::ClientOptions client;
  client.ca_file = options_.ca_file;
  client.use_proxy = options_.use_proxy;
  client.max_idle_connections = 4;
  client_ = std::make_unique<http::Client>(std::move(client));
}

ClientTransport::~ClientTransport() = default;

HttpResponse ClientTransport::send(const HttpRequest& request) {
  http::Request out;
  out.method = request.method;
  out.url = request.url;
  out.headers = request.headers;
  out.body = request.body;
  out.connect_timeout = options_.timeout;
  out.total_timeout = options_.timeout;
  out.max_redirects = 0;  // AWS APIs never redirect; a redirect is an error answer
  auto answer = client_->perform_buffered(out, options_.max_body_bytes);
  if (answer.result.failed()) {
    throw Ec2Error("", request.method + " " + url_authority(request.url) + ": " + answer.result.error, 0);
  }
  HttpResponse response;
  response.status = answer.result.head.status;
  for (const auto& [name, value] : answer.result.head.headers) response.headers[name] = value;  // the last one wins
  response.body = std::move(answer.body);
  return response;
}

std::string url_authority(const std::string& url) { return http::url_authority(url); }

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

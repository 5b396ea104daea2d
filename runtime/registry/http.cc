#include "runtime/registry/http.h"

#include "common/text.h"

namespace vpcri::runtime::registry::http {
namespace {

// One client for every registry: its pool keeps connections (and their TLS) warm across pulls.
vpcri::http::Client& client() {
  static vpcri::http::Client instance([] {
    vpcri::http::ClientOptions options;
    options.max_idle_connections = 8;
    return options;
  }());
  return instance;
}

constexpr int kMaxRedirects = 10;  // as curl's default limit, which this client had before

}  // namespace

Result perform(const Request& request, const BodyHandler& on_body) {
  vpcri::http::Request out;
  out.method = request.method;
  out.url = request.url;
  for (const auto& line : request.headers) {
    size_t colon = line.find(':');
    out.headers.emplace_back(trim(std::string_view(line).substr(0, colon)),
                             colon == std::string::npos ? std::string() : trim(std::string_view(line).substr(colon + 1)));
  }
  if (request.range_from >= 0) out.headers.emplace_back("Range", "bytes=" + std::to_string(request.range_from) + "-");
  out.body = request.body;
  out.connect_timeout = request.connect_timeout;
  out.total_timeout = request.total_timeout;
  out.stall_timeout = request.low_speed_time;
  out.max_redirects = request.follow_redirects ? kMaxRedirects : 0;
  return client().perform(out, on_body);
}

std::string host_of(const std::string& url) { return vpcri::http::url_authority(url); }

std::string url_encode(std::string_view text) { return percent_encode(text); }

}  // namespace vpcri::runtime::registry::http

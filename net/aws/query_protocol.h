// The AWS Query protocol as EC2 and STS speak it: parameters form-encoded in a POST body,
// XML answers whose elements are matched by local name (EC2 answers carry the default
// namespace http://ec2.amazonaws.com/doc/2016-11-15/, STS https://sts.amazonaws.com/doc/2011-06-15/),
// and error documents turned into Ec2Error.
#pragma once

#include <pugixml.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/aws/backoff.h"
#include "net/aws/ec2_api.h"
#include "net/aws/http_transport.h"

namespace vpcri::net::aws {

// Parameters in the order added ("Action", "Version", then the call's own).
class QueryParams {
 public:
  QueryParams& add(std::string name, std::string value);
  QueryParams& add(std::string name, long long value) { return add(std::move(name), std::to_string(value)); }
  QueryParams& add(std::string name, bool value) { return add(std::move(name), std::string(value ? "true" : "false")); }
  QueryParams& add(std::string name, const char* value) { return add(std::move(name), std::string(value)); }
  // "Prefix.1", "Prefix.2", ... for a flattened list.
  QueryParams& add_list(const std::string& prefix, const std::vector<std::string>& values);
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }
  // application/x-www-form-urlencoded, every reserved character percent-encoded.
  std::string form_body() const;

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

constexpr const char* kFormContentType = "application/x-www-form-urlencoded; charset=utf-8";

// Element name without a namespace prefix.
std::string_view local_name(const pugi::xml_node& node);
// First child element with that local name (an empty node when none).
pugi::xml_node child(const pugi::xml_node& node, std::string_view name);
// Text of the first child with that local name, "" when absent.
std::string child_text(const pugi::xml_node& node, std::string_view name);
// The <item> children of node's child `set_name` (e.g. "networkInterfaceSet").
std::vector<pugi::xml_node> items(const pugi::xml_node& node, std::string_view set_name);
// First element anywhere below `node` with that local name.
pugi::xml_node descendant(const pugi::xml_node& node, std::string_view name);

// Parses an answer body; a body that is not XML is an Ec2Error (code "MalformedResponse").
void parse_xml(pugi::xml_document& document, const std::string& body, const std::string& what);

// The Ec2Error an HTTP error answer means: EC2's
// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>, STS's
// <ErrorResponse><Error><Code/><Message/></Error><RequestId/></ErrorResponse>, or no body.
Ec2Error error_from_response(const HttpResponse& response, const std::string& what);

// POSTs a form body to `url` and returns the parsed 2xx answer. `before_each` runs before every
// attempt (rate limit, SigV4: a retry is signed again). Retryable failures (Ec2Error::retryable)
// are tried again up to `max_retries` times after backoff.wait(attempt); the last one is thrown.
std::unique_ptr<pugi::xml_document> post_query(HttpTransport& transport, const std::string& url, const std::string& body,
                                               const std::string& what, int max_retries, const Backoff& backoff,
                                               const std::function<void(HttpRequest&)>& before_each);

}  // namespace vpcri::net::aws

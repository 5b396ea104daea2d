#include "net/aws/query_protocol.h"

#include "common/log.h"
#include "common/text.h"

namespace vpcri::net::aws {

QueryParams& QueryParams::add(std::string name, std::string value) {
  entries_.emplace_back(std::move(name), std::move(value));
  return *this;
}

QueryParams& QueryParams::add_list(const std::string& prefix, const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size(); ++i) add(prefix + "." + std::to_string(i + 1), values[i]);
  return *this;
}

std::string QueryParams::form_body() const {
  std::string body;
  for (const auto& [name, value] : entries_) {
    if (!body.empty()) body += '&';
    body += percent_encode(name) + "=" + percent_encode(value);
  }
  return body;
}

std::string_view local_name(const pugi::xml_node& node) {
  std::string_view name = node.name();
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node child(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node element : node.children()) {
    if (element.type() == pugi::node_element && local_name(element) == name) return element;
  }
  return {};
}

std::string child_text(const pugi::xml_node& node, std::string_view name) {
  return trim(child(node, name).text().as_string());
}

std::vector<pugi::xml_node> items(const pugi::xml_node& node, std::string_view set_name) {
  std::vector<pugi::xml_node> result;
  for (pugi::xml_node element : child(node, set_name).children()) {
    if (element.type() == pugi::node_element && local_name(element) == "item") result.push_back(element);
  }
  return result;
}

pugi::xml_node descendant(const pugi::xml_node& node, std::string_view name) {
  return node.find_node([name](const pugi::xml_node& n) { return n.type() == pugi::node_element && local_name(n) == name; });
}

void parse_xml(pugi::xml_document& document, const std::string& body, const std::string& what) {
  pugi::xml_parse_result parsed = document.load_buffer(body.data(), body.size());
  if (!parsed || !document.document_element()) {
    throw Ec2Error("MalformedResponse", what + ": the answer is not XML (" + parsed.description() + ")", 200);
  }
}

Ec2Error error_from_response(const HttpResponse& response, const std::string& what) {
  int status = static_cast<int>(response.status);
  pugi::xml_document document;
  if (document.load_buffer(response.body.data(), response.body.size()) && document.document_element()) {
    pugi::xml_node error = descendant(document, "Error");
    std::string request_id = trim(descendant(document, "RequestID").text().as_string());
    if (request_id.empty()) request_id = trim(descendant(document, "RequestId").text().as_string());
    if (error) {
      return Ec2Error(child_text(error, "Code"), what + ": " + child_text(error, "Message"), status, request_id);
    }
  }
  std::string snippet = response.body.substr(0, 200);
  return Ec2Error("", what + (snippet.empty() ? "" : ": " + snippet), status);
}

std::unique_ptr<pugi::xml_document> post_query(HttpTransport& transport, const std::string& url, const std::string& body,
                                               const std::string& what, int max_retries, const Backoff& backoff,
                                               const std::function<void(HttpRequest&)>& before_each) {
  for (int attempt = 0;; ++attempt) {
    try {
      HttpRequest request;
      request.method = "POST";
      request.url = url;
      request.headers = {{"Content-Type", kFormContentType}};
      request.body = body;
      if (before_each) before_each(request);
      HttpResponse response = transport.send(request);
      if (response.status < 200 || response.status >= 300) throw error_from_response(response, what);
      auto document = std::make_unique<pugi::xml_document>();
      parse_xml(*document, response.body, what);
      return document;
    } catch (const Ec2Error& error) {
      if (!error.retryable() || attempt >= max_retries) throw;
      log::warn("AWS call failed; retrying", {{"call", what}, {"error", error.what()}, {"attempt", std::to_string(attempt + 1)}});
      backoff.wait(attempt);
    }
  }
}

}  // namespace vpcri::net::aws

#include "net/aws/sts_client.h"

#include "net/aws/aws_time.h"
#include "net/aws/query_protocol.h"

namespace vpcri::net::aws {

StsClient::StsClient(std::shared_ptr<HttpTransport> transport, StsClientOptions options)
    : transport_(std::move(transport)), options_(std::move(options)), url_(options_.endpoint) {
  if (url_.find("://") == std::string::npos) url_ = "https://" + url_;
  if (url_path_and_query(url_) == "/" && !url_.ends_with("/")) url_ += "/";
}

Credentials StsClient::assume_role_with_web_identity(const std::string& role_arn, const std::string& session_name,
                                                     const std::string& web_identity_token) {
  QueryParams params;
  params.add("Action", "AssumeRoleWithWebIdentity")
      .add("Version", "2011-06-15")
      .add("RoleArn", role_arn)
      .add("RoleSessionName", session_name)
      .add("WebIdentityToken", web_identity_token);
  auto document = post_query(*transport_, url_, params.form_body(), "STS AssumeRoleWithWebIdentity",
                             options_.max_retries, options_.backoff, {});
  pugi::xml_node result = child(document->document_element(), "AssumeRoleWithWebIdentityResult");
  pugi::xml_node node = child(result, "Credentials");
  Credentials credentials{child_text(node, "AccessKeyId"), child_text(node, "SecretAccessKey"),
                          child_text(node, "SessionToken"), parse_iso8601_utc(child_text(node, "Expiration"))};
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty() || !credentials.expiration) {
    throw Ec2Error("MalformedResponse", "STS AssumeRoleWithWebIdentity answered no complete Credentials", 200);
  }
  return credentials;
}

}  // namespace vpcri::net::aws

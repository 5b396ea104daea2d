// Ec2Api over the real EC2 Query API: POST form bodies (Action, Version=2016-11-15, parameters
// named as botocore's service-2.json model serializes them), SigV4 for service "ec2", XML answers.
// Every call waits for the client's token bucket, then retries RequestLimitExceeded,
// Throttling, 5xx and transport failures with jittered exponential backoff.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <pugixml.hpp>
#include <string>

#include "net/aws/backoff.h"
#include "net/aws/credentials.h"
#include "net/aws/ec2_api.h"
#include "net/aws/http_transport.h"
#include "net/aws/query_protocol.h"
#include "net/aws/token_bucket.h"

namespace vpcri::net::aws {

struct Ec2ClientOptions {
  std::string endpoint;  // "https://ec2.<region>.amazonaws.com"
  std::string region;    // the SigV4 scope
  double requests_per_second = 5;
  int burst = 20;
  int max_retries = 5;
  Backoff backoff;
  TokenBucket::Sleep throttle_sleep;  // empty: std::this_thread::sleep_for (tests record instead)
  std::function<std::chrono::system_clock::time_point()> now;  // signing clock; empty: the system's
};

class Ec2Client : public Ec2Api {
 public:
  Ec2Client(std::shared_ptr<HttpTransport> transport, CredentialsProvider& credentials, Ec2ClientOptions options);

  Instance describe_instance(const std::string& instance_id) override;
  std::vector<InstanceTypeInfo> describe_instance_types(const std::vector<std::string>& types) override;
  std::vector<Subnet> describe_subnets(const std::vector<std::string>& subnet_ids,
                                       const std::vector<Filter>& filters = {}) override;
  std::vector<NetworkInterface> describe_network_interfaces(const std::vector<std::string>& eni_ids,
                                                            const std::vector<Filter>& filters = {}) override;
  NetworkInterface create_network_interface(const CreateNetworkInterfaceRequest& request) override;
  std::string attach_network_interface(const std::string& eni_id, const std::string& instance_id,
                                       int device_index) override;
  void set_delete_on_termination(const std::string& eni_id, const std::string& attachment_id,
                                 bool delete_on_termination) override;
  void detach_network_interface(const std::string& attachment_id, bool force) override;
  void delete_network_interface(const std::string& eni_id) override;
  std::vector<IpAddress> assign_private_ips(const std::string& eni_id, int count) override;
  std::vector<Cidr> assign_ipv4_prefixes(const std::string& eni_id, int count) override;
  void unassign_private_ips(const std::string& eni_id, const std::vector<IpAddress>& ips) override;
  void unassign_ipv4_prefixes(const std::string& eni_id, const std::vector<Cidr>& prefixes) override;

  // One API call with throttling and retries; returns the answer's document.
  // Counted in the metrics (vpcri_ec2_api_*) by action and error code.
  std::unique_ptr<pugi::xml_document> call(const std::string& action, const QueryParams& params);

 private:
  std::unique_ptr<pugi::xml_document> send_query(const std::string& action, const QueryParams& params);
  // Calls `action` page after page (NextToken) and hands each answer's root to `on_page`.
  void call_paged(const std::string& action, const QueryParams& params,
                  const std::function<void(const pugi::xml_node&)>& on_page);

  std::shared_ptr<HttpTransport> transport_;
  CredentialsProvider& credentials_;
  Ec2ClientOptions options_;
  std::string url_;
  TokenBucket bucket_;
};

}  // namespace vpcri::net::aws

#include "net/aws/ec2_client.h"

#include <chrono>
#include <random>

#include "metrics/registry.h"
#include "net/aws/ec2_parse.h"
#include "net/aws/sigv4.h"

namespace vpcri::net::aws {
namespace {

constexpr const char* kApiVersion = "2016-11-15";

void add_filters(QueryParams& params, const std::vector<Filter>& filters) {
  for (size_t i = 0; i < filters.size(); ++i) {
    std::string prefix = "Filter." + std::to_string(i + 1);
    params.add(prefix + ".Name", filters[i].name);
    params.add_list(prefix + ".Value", filters[i].values);
  }
}

// An idempotency token for a create whose caller gave none: the retries of this one call then
// cannot create a second ENI.
std::string random_client_token() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device random;
  std::string token = "vpcri-";
  for (int i = 0; i < 32; ++i) token += kHex[random() % 16];
  return token;
}

}  // namespace

Ec2Client::Ec2Client(std::shared_ptr<HttpTransport> transport, CredentialsProvider& credentials,
                     Ec2ClientOptions options)
    : transport_(std::move(transport)),
      credentials_(credentials),
      options_(std::move(options)),
      url_(options_.endpoint),
      bucket_(options_.requests_per_second, options_.burst, {}, options_.throttle_sleep) {
  if (url_.find("://") == std::string::npos) url_ = "https://" + url_;
  if (url_path_and_query(url_) == "/" && !url_.ends_with("/")) url_ += "/";
}

std::unique_ptr<pugi::xml_document> Ec2Client::call(const std::string& action, const QueryParams& params) {
  // One call as the provider sees it (retries included), so counts match the provider's intent.
  static auto& calls = metrics::global().counter("vpcri_ec2_api_calls_total", "EC2 API calls, by action.", {"action"});
  static auto& errors = metrics::global().counter(
      "vpcri_ec2_api_errors_total",
      "EC2 API calls that failed after their retries, by action and EC2 error code (\"transport\": no answer).",
      {"action", "code"});
  static auto& latency = metrics::global().histogram("vpcri_ec2_api_call_duration_seconds",
                                                     "EC2 API call latency, retries and rate limiting included.",
                                                     {"action"}, metrics::latency_buckets());
  calls.with({action}).inc();
  auto start = std::chrono::steady_clock::now();
  try {
    auto answer = send_query(action, params);
    latency.with({action}).observe(metrics::seconds_since(start));
    return answer;
  } catch (const Ec2Error& e) {
    latency.with({action}).observe(metrics::seconds_since(start));
    errors.with({action, e.aws_code().empty() ? "transport" : e.aws_code()}).inc();
    throw;
  } catch (...) {
    latency.with({action}).observe(metrics::seconds_since(start));
    errors.with({action, "transport"}).inc();
    throw;
  }
}

std::unique_ptr<pugi::xml_document> Ec2Client::send_query(const std::string& action, const QueryParams& params) {
  QueryParams full;
  full.add("Action", action).add("Version", kApiVersion);
  for (const auto& [name, value] : params.entries()) full.add(name, value);
  return post_query(*transport_, url_, full.form_body(), "EC2 " + action, options_.max_retries, options_.backoff,
                    [this](HttpRequest& request) {
                      bucket_.acquire();
                      sign_request(request, credentials_.get(), {options_.region, "ec2"},
                                   options_.now ? options_.now() : std::chrono::system_clock::now());
                    });
}

void Ec2Client::call_paged(const std::string& action, const QueryParams& params,
                           const std::function<void(const pugi::xml_node&)>& on_page) {
  std::string next_token;
  do {
    QueryParams page = params;
    if (!next_token.empty()) page.add("NextToken", next_token);
    auto document = call(action, page);
    pugi::xml_node root = document->document_element();
    on_page(root);
    next_token = child_text(root, "nextToken");
  } while (!next_token.empty());
}

Instance Ec2Client::describe_instance(const std::string& instance_id) {
  QueryParams params;
  params.add("InstanceId.1", instance_id);
  std::vector<Instance> found;
  call_paged("DescribeInstances", params, [&](const pugi::xml_node& root) {
    for (const auto& reservation : items(root, "reservationSet")) {
      for (const auto& instance : items(reservation, "instancesSet")) found.push_back(parse_instance(instance));
    }
  });
  for (auto& instance : found) {
    if (instance.id == instance_id) return std::move(instance);
  }
  throw Ec2Error("InvalidInstanceID.NotFound", "DescribeInstances did not list instance " + instance_id, 400);
}

std::vector<InstanceTypeInfo> Ec2Client::describe_instance_types(const std::vector<std::string>& types) {
  QueryParams params;
  params.add_list("InstanceType", types);
  std::vector<InstanceTypeInfo> result;
  call_paged("DescribeInstanceTypes", params, [&](const pugi::xml_node& root) {
    for (const auto& item : items(root, "instanceTypeSet")) result.push_back(parse_instance_type(item));
  });
  return result;
}

std::vector<Subnet> Ec2Client::describe_subnets(const std::vector<std::string>& subnet_ids,
                                                const std::vector<Filter>& filters) {
  QueryParams params;
  params.add_list("SubnetId", subnet_ids);
  add_filters(params, filters);
  if (subnet_ids.empty()) params.add("MaxResults", 1000LL);  // not allowed together with ids
  std::vector<Subnet> result;
  call_paged("DescribeSubnets", params, [&](const pugi::xml_node& root) {
    for (const auto& item : items(root, "subnetSet")) result.push_back(parse_subnet(item));
  });
  return result;
}

std::vector<NetworkInterface> Ec2Client::describe_network_interfaces(const std::vector<std::string>& eni_ids,
                                                                     const std::vector<Filter>& filters) {
  QueryParams params;
  params.add_list("NetworkInterfaceId", eni_ids);
  add_filters(params, filters);
  if (eni_ids.empty()) params.add("MaxResults", 1000LL);
  std::vector<NetworkInterface> result;
  call_paged("DescribeNetworkInterfaces", params, [&](const pugi::xml_node& root) {
    for (const auto& item : items(root, "networkInterfaceSet")) result.push_back(parse_network_interface(item));
  });
  return result;
}

NetworkInterface Ec2Client::create_network_interface(const CreateNetworkInterfaceRequest& request) {
  QueryParams params;
  params.add("SubnetId", request.subnet_id);
  if (!request.description.empty()) params.add("Description", request.description);
  params.add_list("SecurityGroupId", request.security_group_ids);
  if (!request.tags.empty()) {
    params.add("TagSpecification.1.ResourceType", "network-interface");
    for (size_t i = 0; i < request.tags.size(); ++i) {
      std::string prefix = "TagSpecification.1.Tag." + std::to_string(i + 1);
      params.add(prefix + ".Key", request.tags[i].key);
      params.add(prefix + ".Value", request.tags[i].value);
    }
  }
  params.add("ClientToken", request.client_token.empty() ? random_client_token() : request.client_token);
  auto document = call("CreateNetworkInterface", params);
  pugi::xml_node eni = child(document->document_element(), "networkInterface");
  if (!eni) throw Ec2Error("MalformedResponse", "CreateNetworkInterface answered no networkInterface", 200);
  return parse_network_interface(eni);
}

std::string Ec2Client::attach_network_interface(const std::string& eni_id, const std::string& instance_id,
                                                 int device_index) {
  QueryParams params;
  params.add("NetworkInterfaceId", eni_id).add("InstanceId", instance_id).add("DeviceIndex", static_cast<long long>(device_index));
  auto document = call("AttachNetworkInterface", params);
  std::string attachment_id = child_text(document->document_element(), "attachmentId");
  if (attachment_id.empty()) throw Ec2Error("MalformedResponse", "AttachNetworkInterface answered no attachmentId", 200);
  return attachment_id;
}

void Ec2Client::set_delete_on_termination(const std::string& eni_id, const std::string& attachment_id,
                                          bool delete_on_termination) {
  QueryParams params;
  params.add("NetworkInterfaceId", eni_id)
      .add("Attachment.AttachmentId", attachment_id)
      .add("Attachment.DeleteOnTermination", delete_on_termination);
  call("ModifyNetworkInterfaceAttribute", params);
}

void Ec2Client::detach_network_interface(const std::string& attachment_id, bool force) {
  QueryParams params;
  params.add("AttachmentId", attachment_id);
  if (force) params.add("Force", true);
  call("DetachNetworkInterface", params);
}

void Ec2Client::delete_network_interface(const std::string& eni_id) {
  QueryParams params;
  params.add("NetworkInterfaceId", eni_id);
  call("DeleteNetworkInterface", params);
}

std::vector<IpAddress> Ec2Client::assign_private_ips(const std::string& eni_id, int count) {
  QueryParams params;
  params.add("NetworkInterfaceId", eni_id).add("SecondaryPrivateIpAddressCount", static_cast<long long>(count));
  auto document = call("AssignPrivateIpAddresses", params);
  std::vector<IpAddress> assigned;
  for (const auto& item : items(document->document_element(), "assignedPrivateIpAddressesSet")) {
    assigned.push_back(parse_ip(child_text(item, "privateIpAddress"), "assigned private IP"));
  }
  return assigned;
}

std::vector<Cidr> Ec2Client::assign_ipv4_prefixes(const std::string& eni_id, int count) {
  QueryParams params;
  params.add("NetworkInterfaceId", eni_id).add("Ipv4PrefixCount", static_cast<long long>(count));
  auto document = call("AssignPrivateIpAddresses", params);
  std::vector<Cidr> assigned;
  for (const auto& item : items(document->document_element(), "assignedIpv4PrefixSet")) {
    assigned.push_back(parse_cidr(child_text(item, "ipv4Prefix"), "assigned IPv4 prefix"));
  }
  return assigned;
}

void Ec2Client::unassign_private_ips(const std::string& eni_id, const std::vector<IpAddress>& ips) {
  QueryParams params;
  params.add("NetworkInterfaceId", eni_id);
  std::vector<std::string> texts;
  for (const auto& ip : ips) texts.push_back(ip.to_string());
  params.add_list("PrivateIpAddress", texts);
  call("UnassignPrivateIpAddresses", params);
}

void Ec2Client::unassign_ipv4_prefixes(const std::string& eni_id, const std::vector<Cidr>& prefixes) {
  QueryParams params;
  params.add("NetworkInterfaceId", eni_id);
  std::vector<std::string> texts;
  for (const auto& prefix : prefixes) texts.push_back(prefix.to_string());
  params.add_list("Ipv4Prefix", texts);
  call("UnassignPrivateIpAddresses", params);
}

}  // namespace vpcri::net::aws

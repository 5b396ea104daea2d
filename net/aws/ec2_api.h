// The slice of the EC2 Query API (version 2016-11-15) that the aws provider uses, as plain C++
// values. Two implementations: Ec2Client (net/aws/ec2_client.*: HTTPS + SigV4 + XML, the real
// thing) and FakeEc2Api (net/aws/fake_ec2_api.h, in-memory, for the provider's unit tests).
//
// Names follow the API model (botocore/data/ec2/2016-11-15/service-2.json) so a reader can map
// each call to its documentation. Every call is blocking; describe_* calls follow NextToken
// pagination themselves and return everything. Failures throw Ec2Error.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "net/cidr.h"

namespace vpcri::net::aws {

struct Tag {
  std::string key;
  std::string value;
  bool operator==(const Tag&) const = default;
};

// A filter of a Describe* call ("Filter.N.Name" / "Filter.N.Value.M"), e.g. {"tag:cluster.k8s.amazonaws.com/name", {"c1"}}.
struct Filter {
  std::string name;
  std::vector<std::string> values;
};

struct PrivateIp {
  IpAddress address;
  bool primary = false;
  bool operator==(const PrivateIp&) const = default;
};

struct NetworkInterface {
  std::string id;  // eni-...
  std::string subnet_id;
  std::string vpc_id;
  std::string availability_zone;
  std::string mac_address;  // "0a:1b:..." lower case
  std::string status;       // available | attaching | in-use | detaching | associated
  std::string description;
  std::vector<std::string> security_group_ids;
  std::vector<PrivateIp> private_ips;  // the primary first
  std::vector<Cidr> ipv4_prefixes;     // /28s from prefix delegation
  std::vector<Tag> tags;
  // Attachment (empty attachment_id: not attached).
  std::string attachment_id;  // eni-attach-...
  std::string instance_id;
  int device_index = -1;
  std::string attachment_status;  // attaching | attached | detaching | detached
  bool delete_on_termination = false;
};

struct Subnet {
  std::string id;
  std::string vpc_id;
  std::string availability_zone;
  Cidr cidr;
  long available_ip_address_count = 0;
  std::vector<Tag> tags;
};

struct Instance {
  std::string id;
  std::string instance_type;
  std::string availability_zone;
  std::string vpc_id;
  std::string subnet_id;
  IpAddress private_ip;
  std::vector<NetworkInterface> network_interfaces;  // attached ones, as DescribeInstances lists them
};

// DescribeInstanceTypes' NetworkInfo for one type.
struct InstanceTypeInfo {
  std::string instance_type;
  int maximum_network_interfaces = 0;
  int ipv4_addresses_per_interface = 0;  // the ENI's primary IP included
  bool nitro = false;                    // Hypervisor "nitro": prefix delegation possible
};

struct CreateNetworkInterfaceRequest {
  std::string subnet_id;
  std::vector<std::string> security_group_ids;  // "SecurityGroupId.N"
  std::string description;
  std::vector<Tag> tags;  // as TagSpecification.1 with ResourceType network-interface
  std::string client_token;  // idempotency token: a retried create returns the same ENI
};

// An error answer of the EC2 API (<Response><Errors><Error><Code>...), or a transport failure
// (code "" and http_status 0). The vpcri::Errc is derived from the code.
class Ec2Error : public Error {
 public:
  Ec2Error(std::string aws_code, std::string message, int http_status, std::string request_id = {});
  const std::string& aws_code() const { return aws_code_; }  // e.g. "RequestLimitExceeded"
  int http_status() const { return http_status_; }
  const std::string& request_id() const { return request_id_; }
  // RequestLimitExceeded, Throttling, any 5xx or a transport failure: worth a retry later.
  bool retryable() const;
  bool throttled() const;

 private:
  std::string aws_code_;
  int http_status_;
  std::string request_id_;
};

class Ec2Api {
 public:
  virtual ~Ec2Api() = default;

  virtual Instance describe_instance(const std::string& instance_id) = 0;
  virtual std::vector<InstanceTypeInfo> describe_instance_types(const std::vector<std::string>& types) = 0;
  virtual std::vector<Subnet> describe_subnets(const std::vector<std::string>& subnet_ids,
                                               const std::vector<Filter>& filters = {}) = 0;
  virtual std::vector<NetworkInterface> describe_network_interfaces(const std::vector<std::string>& eni_ids,
                                                                    const std::vector<Filter>& filters = {}) = 0;

  virtual NetworkInterface create_network_interface(const CreateNetworkInterfaceRequest& request) = 0;
  // Returns the attachment id.
  virtual std::string attach_network_interface(const std::string& eni_id, const std::string& instance_id,
                                               int device_index) = 0;
  virtual void set_delete_on_termination(const std::string& eni_id, const std::string& attachment_id,
                                         bool delete_on_termination) = 0;
  virtual void detach_network_interface(const std::string& attachment_id, bool force) = 0;
  virtual void delete_network_interface(const std::string& eni_id) = 0;

  // AssignPrivateIpAddresses with SecondaryPrivateIpAddressCount / Ipv4PrefixCount; returns what
  // was assigned (assignedPrivateIpAddressesSet / assignedIpv4PrefixSet).
  virtual std::vector<IpAddress> assign_private_ips(const std::string& eni_id, int count) = 0;
  virtual std::vector<Cidr> assign_ipv4_prefixes(const std::string& eni_id, int count) = 0;
  virtual void unassign_private_ips(const std::string& eni_id, const std::vector<IpAddress>& ips) = 0;
  virtual void unassign_ipv4_prefixes(const std::string& eni_id, const std::vector<Cidr>& prefixes) = 0;
};

}  // namespace vpcri::net::aws

// In-memory EC2 with state, for the aws provider's unit tests: subnets with finite address space
// (AWS reserves the first four and the last address of each), instances with a type, ENIs,
// attachments at device indexes, per-type ENI and IPv4-per-ENI limits, secondary IPs and /28
// prefixes, tags, client tokens, and error injection per call. Errors use EC2's codes
// (InsufficientFreeAddressesInSubnet, AttachmentLimitExceeded, ...). Thread-safe.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "net/aws/ec2_api.h"

namespace vpcri::net::aws::testing {

class FakeEc2Api : public Ec2Api {
 public:
  // World setup.
  void add_subnet(const std::string& id, const std::string& cidr, const std::string& vpc_id = "vpc-1",
                  const std::string& az = "us-east-1a");
  void add_instance_type(InstanceTypeInfo info);
  // A running instance with its primary ENI (device 0) in `subnet_id`; returns the primary ENI's id.
  std::string add_instance(const std::string& instance_id, const std::string& type, const std::string& subnet_id,
                           const std::vector<std::string>& security_groups);
  // Uses `count` free addresses of the subnet (someone else's instances).
  void consume_addresses(const std::string& subnet_id, int count);
  // An ENI created outside the provider (e.g. leaked by a crash), not attached.
  std::string add_detached_eni(const std::string& subnet_id, std::vector<Tag> tags);

  // Error injection. The next `times` calls of `call` (the method name, e.g.
  // "attach_network_interface") fail with this error; deny() makes every call fail with
  // UnauthorizedOperation, as a missing IAM permission does.
  void fail_next(const std::string& call, const Ec2Error& error, int times = 1);
  void deny(const std::string& call);
  // Subnets whose free space is too fragmented for a /28 (InsufficientCidrBlocks).
  void set_no_free_prefixes(const std::string& subnet_id, bool value);
  // A detach completes only after this many describe_network_interfaces calls see the ENI.
  void set_detach_delay(int describes) { detach_delay_ = describes; }

  // Inspection.
  int calls(const std::string& call) const;
  std::optional<NetworkInterface> find_eni(const std::string& eni_id) const;
  std::vector<NetworkInterface> all_enis() const;
  long free_addresses(const std::string& subnet_id) const;
  std::vector<CreateNetworkInterfaceRequest> create_requests() const;

  // Ec2Api.
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

 private:
  struct SubnetState {
    Subnet subnet;
    std::set<uint32_t> used;  // addresses taken (reserved ones not included)
    bool no_free_prefixes = false;
  };
  struct InstanceState {
    Instance instance;
    std::vector<std::string> security_groups;
  };
  struct EniState {
    NetworkInterface eni;
    int detach_countdown = -1;  // > 0: describes left until the pending detach completes
  };

  void enter(const std::string& call);  // counts, throws an injected error
  EniState& eni_locked(const std::string& eni_id);
  SubnetState& subnet_locked(const std::string& subnet_id);
  const InstanceTypeInfo& type_of_locked(const std::string& instance_id);
  uint32_t take_address_locked(SubnetState& subnet);
  std::optional<uint32_t> take_prefix_locked(SubnetState& subnet);
  void release_address_locked(const std::string& subnet_id, const IpAddress& ip);
  void refresh_available_locked(SubnetState& subnet);
  NetworkInterface new_eni_locked(const std::string& subnet_id, std::vector<std::string> groups,
                                  std::string description, std::vector<Tag> tags);
  void check_slots_locked(const NetworkInterface& eni, int more);
  bool matches(const NetworkInterface& eni, const std::vector<Filter>& filters) const;

  mutable std::mutex mu_;
  std::map<std::string, SubnetState> subnets_;
  std::map<std::string, InstanceTypeInfo> types_;
  std::map<std::string, InstanceState> instances_;
  std::map<std::string, EniState> enis_;
  std::map<std::string, std::string> tokens_;  // client token -> ENI id
  std::map<std::string, int> calls_;
  std::map<std::string, std::deque<Ec2Error>> failures_;
  std::set<std::string> denied_;
  std::vector<CreateNetworkInterfaceRequest> create_requests_;
  int detach_delay_ = 0;
  int next_id_ = 1;
};

// An Ec2Error as EC2 sends it (HTTP 400, or 503 for RequestLimitExceeded).
Ec2Error ec2_error(const std::string& code, const std::string& message = "injected");

}  // namespace vpcri::net::aws::testing

#include "net/aws/aws_provider.h"

#include "net/aws/aws_time.h"

#include <algorithm>
#include <optional>
#include <thread>

#include "common/log.h"
#include "net/aws/instance_types.h"
#include "net/ipam/ipv4.h"

namespace vpcri::net::aws {
namespace {

using ipam::ProviderErrc;
using ipam::ProviderError;

// Runs one EC2 call; its Ec2Error becomes a ProviderError naming `action`.
template <typename Fn>
auto ec2_call(const char* action, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Ec2Error& e) {
    throw provider_error(e, action);
  }
}

std::string tag_value(const NetworkInterface& eni, const std::string& key) {
  for (const Tag& t : eni.tags) {
    if (t.key == key) return t.value;
  }
  return "";
}

std::vector<IpAddress> prefix_addresses(const Cidr& prefix) {
  std::vector<IpAddress> out;
  uint32_t base = ipam::ipv4_to_u32(prefix.network);
  for (uint64_t i = 0; i < ipam::ipv4_cidr_size(prefix); ++i) out.push_back(ipam::ipv4_from_u32(base + uint32_t(i)));
  return out;
}

bool contains(const std::vector<IpAddress>& ips, const IpAddress& ip) {
  return std::find(ips.begin(), ips.end(), ip) != ips.end();
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

ProviderError provider_error(const Ec2Error& error, const std::string& action) {
  const std::string& code = error.aws_code();
  std::string what = "EC2 " + action + " failed: " + error.what();
  if (error.throttled()) {
    return ProviderError(ProviderErrc::throttled,
                         what + "; the account's EC2 API rate is exhausted: lower network.aws.ec2_requests_per_second "
                                "on the nodes or ask AWS for a higher limit");
  }
  if (code == "InsufficientFreeAddressesInSubnet" || code == "InsufficientCidrBlocks") {
    return ProviderError(ProviderErrc::insufficient_addresses,
                         what + "; add subnets to network.aws.subnets or free addresses in the subnet");
  }
  if (code == "AttachmentLimitExceeded") {
    return ProviderError(ProviderErrc::eni_limit_reached,
                         what + "; the instance has all the ENIs its type allows: lower kubelet max-pods, "
                                "enable network.aws.prefix_delegation or use a larger instance type");
  }
  if (code == "PrivateIpAddressLimitExceeded") {
    return ProviderError(ProviderErrc::eni_limit_reached,
                         what + "; the ENI has all the addresses its instance type allows");
  }
  if (code == "UnauthorizedOperation" || code == "AccessDenied" || code == "AccessDeniedException") {
    return ProviderError(ProviderErrc::other, what + "; the node's IAM role lacks ec2:" + action +
                                                  ": add it to the role's policy (see docs/aws.md)");
  }
  if (code == "AuthFailure") {
    return ProviderError(ProviderErrc::other,
                         what + "; the AWS credentials were refused: check the node role or AWS_* variables");
  }
  return ProviderError(ProviderErrc::other, what);
}

AwsProvider::AwsProvider(Ec2Api& ec2, InstanceMetadata& imds, AwsProviderOptions options)
    : ec2_(ec2), imds_(imds), options_(std::move(options)) {}

void AwsProvider::require_described(const char* what) const {
  if (!described_) throw ProviderError(ProviderErrc::other, std::string("aws provider: ") + what + " before describe_node");
}

void AwsProvider::sleep_for(std::chrono::milliseconds d) {
  if (options_.sleep) {
    options_.sleep(d);
  } else {
    std::this_thread::sleep_for(d);
  }
}

ipam::NodeInfo AwsProvider::describe_node() {
  InstanceIdentity id;
  std::vector<MetadataEni> metadata_enis;
  try {
    id = imds_.identity();
    metadata_enis = imds_.enis();
  } catch (const std::exception& e) {
    throw ProviderError(ProviderErrc::other, std::string("instance metadata (IMDSv2) did not answer: ") + e.what() +
                                                 "; is this an EC2 instance with IMDS enabled and a hop limit of 2 "
                                                 "or more? (network.aws.imds_endpoint overrides the address)");
  }
  Instance instance = ec2_call("DescribeInstances", [&] { return ec2_.describe_instance(id.instance_id); });
  auto primary = std::find_if(instance.network_interfaces.begin(), instance.network_interfaces.end(),
                              [](const NetworkInterface& n) { return n.device_index == 0; });
  if (primary == instance.network_interfaces.end()) {
    throw ProviderError(ProviderErrc::other, "EC2 lists no ENI at device index 0 for instance " + id.instance_id);
  }

  std::string type = instance.instance_type.empty() ? id.instance_type : instance.instance_type;
  InstanceTypeLimits limits{};
  try {
    std::vector<InstanceTypeInfo> infos = ec2_.describe_instance_types({type});
    if (infos.empty()) throw Ec2Error("InvalidInstanceType", "no answer for " + type, 400);
    limits.max_enis = infos.front().maximum_network_interfaces;
    limits.ips_per_eni = infos.front().ipv4_addresses_per_interface;
    limits.nitro = infos.front().nitro;
  } catch (const Ec2Error& e) {
    std::optional<InstanceTypeLimits> builtin = builtin_instance_type(type);
    if (!builtin) {
      throw ProviderError(ProviderErrc::other,
                          "cannot learn the ENI limits of instance type " + type + ": EC2 DescribeInstanceTypes failed (" +
                              e.what() + ") and the type is not in vpcri's built-in table; grant "
                              "ec2:DescribeInstanceTypes to the node's IAM role");
    }
    log::warn("aws: DescribeInstanceTypes failed, using the built-in limits",
              {{"instance_type", type}, {"error", e.what()}});
    limits = *builtin;
  }

  Cidr cidr = subnet_cidr(primary->subnet_id);

  instance_id_ = id.instance_id;
  instance_type_ = type;
  max_enis_ = limits.max_enis;
  ips_per_eni_limit_ = limits.ips_per_eni;
  primary_subnet_ = primary->subnet_id;
  primary_security_groups_ = primary->security_group_ids;
  eni_subnet_[primary->id] = primary->subnet_id;
  prefix_delegation_ = options_.prefix_delegation && limits.nitro;
  if (options_.prefix_delegation && !limits.nitro) {
    log::warn("aws: prefix delegation needs a nitro instance type; using secondary IPs", {{"instance_type", type}});
  }
  described_ = true;

  ipam::NodeInfo node;
  node.instance_id = id.instance_id;
  node.instance_type = type;
  node.max_enis = limits.max_enis;
  node.ips_per_eni = prefix_delegation_ ? (limits.ips_per_eni - 1) * kIpsPerPrefix + 1 : limits.ips_per_eni;
  node.primary_eni_id = primary->id;
  node.primary_device_number = 0;
  node.subnet_id = primary->subnet_id;
  node.subnet_cidr = cidr;
  node.primary_ip = instance.private_ip;
  for (const PrivateIp& ip : primary->private_ips) {
    if (ip.primary) node.primary_ip = ip.address;
  }
  std::string primary_mac = id.primary_mac.empty() ? primary->mac_address : id.primary_mac;
  for (const MetadataEni& m : metadata_enis) {
    if (m.mac == primary_mac) node.vpc_cidrs = m.vpc_cidrs;
  }
  return node;
}

Cidr AwsProvider::subnet_cidr(const std::string& subnet_id) {
  auto it = subnet_cidrs_.find(subnet_id);
  if (it != subnet_cidrs_.end()) return it->second;
  std::vector<Subnet> subnets = ec2_call("DescribeSubnets", [&] { return ec2_.describe_subnets({subnet_id}); });
  if (subnets.empty()) throw ProviderError(ProviderErrc::other, "EC2 DescribeSubnets does not know subnet " + subnet_id);
  subnet_cidrs_[subnet_id] = subnets.front().cidr;
  return subnets.front().cidr;
}

ipam::EniInfo AwsProvider::to_eni_info(const NetworkInterface& eni) {
  ipam::EniInfo info;
  info.id = eni.id;
  info.mac = eni.mac_address;
  info.device_number = eni.device_index;
  info.subnet_id = eni.subnet_id;
  info.subnet_cidr = subnet_cidr(eni.subnet_id);
  eni_subnet_[eni.id] = eni.subnet_id;
  const std::vector<IpAddress>& parked = parked_[eni.id];
  for (const PrivateIp& ip : eni.private_ips) {
    if (ip.primary) {
      info.primary_ip = ip.address;
    } else {
      info.secondary_ips.push_back(ip.address);
    }
  }
  for (const Cidr& prefix : eni.ipv4_prefixes) {
    for (const IpAddress& ip : prefix_addresses(prefix)) {
      if (!contains(parked, ip)) info.secondary_ips.push_back(ip);
    }
  }
  return info;
}

std::vector<ipam::EniInfo> AwsProvider::list_enis() {
  require_described("list_enis");
  std::vector<NetworkInterface> enis = ec2_call("DescribeNetworkInterfaces", [&] {
    return ec2_.describe_network_interfaces({}, {Filter{"attachment.instance-id", {instance_id_}}});
  });
  std::vector<ipam::EniInfo> out;
  std::set<std::string> seen;
  for (const NetworkInterface& eni : enis) {
    // Detaching ENIs are on their way out; the pool must not hand out their addresses.
    if (eni.attachment_status != "attached" && eni.attachment_status != "attaching") continue;
    if (eni.device_index < 0) continue;
    seen.insert(eni.id);
    // Parked addresses whose prefix is gone (unassigned by someone else) are forgotten.
    std::vector<IpAddress>& parked = parked_[eni.id];
    std::erase_if(parked, [&](const IpAddress& ip) {
      return std::none_of(eni.ipv4_prefixes.begin(), eni.ipv4_prefixes.end(),
                          [&](const Cidr& p) { return p.contains(ip); });
    });
    out.push_back(to_eni_info(eni));
  }
  std::erase_if(parked_, [&](const auto& entry) { return seen.count(entry.first) == 0; });
  std::sort(out.begin(), out.end(),
            [](const ipam::EniInfo& a, const ipam::EniInfo& b) { return a.device_number < b.device_number; });
  return out;
}

std::string AwsProvider::pick_subnet() {
  std::vector<std::string> ids = options_.subnets.empty() ? std::vector<std::string>{primary_subnet_} : options_.subnets;
  std::vector<Subnet> subnets = ec2_call("DescribeSubnets", [&] { return ec2_.describe_subnets(ids); });
  const Subnet* best = nullptr;
  for (const Subnet& s : subnets) {
    subnet_cidrs_[s.id] = s.cidr;
    if (best == nullptr || s.available_ip_address_count > best->available_ip_address_count) best = &s;
  }
  if (best == nullptr || best->available_ip_address_count <= 0) {
    std::string which;
    for (const Subnet& s : subnets) {
      which += (which.empty() ? "" : ", ") + s.id + " has " + std::to_string(s.available_ip_address_count);
    }
    if (which.empty()) which = join(ids) + " unknown to EC2";
    throw ProviderError(ProviderErrc::insufficient_addresses,
                        "no free IP for a new ENI: subnet " + which + " free addresses; add subnets to "
                        "network.aws.subnets" +
                            (prefix_delegation_ ? std::string() : std::string(" or enable prefix delegation")));
  }
  return best->id;
}

int AwsProvider::free_device_index() {
  std::vector<NetworkInterface> attached = ec2_call("DescribeNetworkInterfaces", [&] {
    return ec2_.describe_network_interfaces({}, {Filter{"attachment.instance-id", {instance_id_}}});
  });
  std::set<int> used;
  for (const NetworkInterface& eni : attached) used.insert(eni.device_index);
  for (int index = 1; index < max_enis_; ++index) {
    if (used.count(index) == 0) return index;
  }
  throw ProviderError(ProviderErrc::eni_limit_reached,
                      "instance " + instance_id_ + " (" + instance_type_ + ") has all " + std::to_string(max_enis_) +
                          " ENIs it may attach; lower kubelet max-pods, enable network.aws.prefix_delegation or use "
                          "a larger instance type");
}

std::string AwsProvider::next_client_token() {
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.now().time_since_epoch()).count();
  return "vpcri-" + instance_id_ + "-" + std::to_string(nanos) + "-" + std::to_string(++token_counter_);
}

ipam::EniInfo AwsProvider::create_eni() {
  require_described("create_eni");
  int device_index = free_device_index();
  CreateNetworkInterfaceRequest request;
  request.subnet_id = pick_subnet();
  request.security_group_ids = options_.security_groups.empty() ? primary_security_groups_ : options_.security_groups;
  request.description = "vpcri pod ENI of " + instance_id_;
  if (!options_.cluster_name.empty()) request.tags.push_back({kClusterTag, options_.cluster_name});
  request.tags.push_back({kInstanceTag, instance_id_});
  request.tags.push_back({kCreatedAtTag, rfc3339_utc(options_.now())});
  request.client_token = next_client_token();
  NetworkInterface eni = ec2_call("CreateNetworkInterface", [&] { return ec2_.create_network_interface(request); });

  std::string attachment_id;
  try {
    attachment_id = ec2_call("AttachNetworkInterface",
                             [&] { return ec2_.attach_network_interface(eni.id, instance_id_, device_index); });
    ec2_call("ModifyNetworkInterfaceAttribute",
             [&] { ec2_.set_delete_on_termination(eni.id, attachment_id, true); });
  } catch (const ProviderError&) {
    remove_created_eni(eni.id, attachment_id);
    throw;
  }
  eni.device_index = device_index;
  eni.attachment_id = attachment_id;
  eni.instance_id = instance_id_;
  log::info("aws: attached a new ENI", {{"eni", eni.id},
                                        {"subnet", eni.subnet_id},
                                        {"device_index", std::to_string(device_index)}});
  return to_eni_info(eni);
}

// Undoes a create whose attach or DeleteOnTermination failed. If this fails too the ENI stays
// tagged for this node, and sweep_leaked deletes it after the grace period.
void AwsProvider::remove_created_eni(const std::string& eni_id, const std::string& attachment_id) {
  try {
    if (attachment_id.empty()) {
      ec2_call("DeleteNetworkInterface", [&] { ec2_.delete_network_interface(eni_id); });
    } else {
      delete_eni(eni_id);
    }
  } catch (const std::exception& e) {
    log::warn("aws: could not delete an ENI whose attach failed; the leaked-ENI sweep will",
              {{"eni", eni_id}, {"error", e.what()}});
  }
}

void AwsProvider::delete_eni(const std::string& eni_id) {
  std::vector<NetworkInterface> found;
  try {
    found = ec2_.describe_network_interfaces({eni_id});
  } catch (const Ec2Error& e) {
    if (e.aws_code() == "InvalidNetworkInterfaceID.NotFound") return;  // already gone
    throw provider_error(e, "DescribeNetworkInterfaces");
  }
  if (found.empty()) return;
  if (found.front().device_index == 0) {
    throw ProviderError(ProviderErrc::other, "refusing to delete " + eni_id + ": it is the instance's primary ENI");
  }
  if (!found.front().attachment_id.empty() && found.front().attachment_status != "detaching") {
    const std::string attachment = found.front().attachment_id;
    ec2_call("DetachNetworkInterface", [&] { ec2_.detach_network_interface(attachment, false); });
  }
  parked_.erase(eni_id);
  eni_subnet_.erase(eni_id);
  wait_detached_and_delete(eni_id);
}

void AwsProvider::wait_detached_and_delete(const std::string& eni_id) {
  auto waited = std::chrono::milliseconds{0};
  std::string status;
  while (true) {
    std::vector<NetworkInterface> found =
        ec2_call("DescribeNetworkInterfaces", [&] { return ec2_.describe_network_interfaces({eni_id}); });
    if (found.empty()) return;
    status = found.front().status;
    if (status == "available") break;
    if (waited >= options_.detach_timeout) {
      throw ProviderError(ProviderErrc::other,
                          "ENI " + eni_id + " is still " + status + " " + std::to_string(waited.count() / 1000) +
                              " s after its detach; the leaked-ENI sweep deletes it once it is available");
    }
    sleep_for(options_.detach_poll_interval);
    waited += options_.detach_poll_interval;
  }
  ec2_call("DeleteNetworkInterface", [&] { ec2_.delete_network_interface(eni_id); });
}

std::vector<IpAddress> AwsProvider::assign_ips(const std::string& eni_id, int count) {
  require_described("assign_ips");
  if (count <= 0) return {};
  try {
    if (prefix_delegation_) return assign_prefix_ips(eni_id, count);
    return ec2_call("AssignPrivateIpAddresses", [&] { return ec2_.assign_private_ips(eni_id, count); });
  } catch (const ProviderError& e) {
    if (e.kind() != ProviderErrc::insufficient_addresses) throw;
    throw no_free_ip(subnet_of(eni_id), e.what());
  }
}

std::string AwsProvider::subnet_of(const std::string& eni_id) {
  auto it = eni_subnet_.find(eni_id);
  if (it != eni_subnet_.end()) return it->second;
  try {
    std::vector<NetworkInterface> found = ec2_.describe_network_interfaces({eni_id});
    if (!found.empty()) return eni_subnet_[eni_id] = found.front().subnet_id;
  } catch (const Ec2Error&) {  // only for a message
  }
  return "of ENI " + eni_id;
}

// "no free IP: subnet S has N free addresses; <fix> (<what EC2 said>)", N read again from EC2.
ProviderError AwsProvider::no_free_ip(const std::string& subnet_id, const std::string& cause) {
  std::string count = "no";
  try {
    std::vector<Subnet> subnets = subnet_id.rfind("subnet-", 0) == 0 ? ec2_.describe_subnets({subnet_id})
                                                                      : std::vector<Subnet>{};
    if (!subnets.empty()) count = std::to_string(subnets.front().available_ip_address_count);
  } catch (const Ec2Error&) {  // the message is still useful without the number
  }
  return ProviderError(ProviderErrc::insufficient_addresses,
                       "no free IP: subnet " + subnet_id + " has " + count +
                           " free addresses; add subnets to network.aws.subnets" +
                           (prefix_delegation_ ? std::string() : std::string(" or enable prefix delegation")) +
                           " (" + cause + ")");
}

std::vector<IpAddress> AwsProvider::assign_prefix_ips(const std::string& eni_id, int count) {
  std::vector<IpAddress>& parked = parked_[eni_id];
  std::vector<IpAddress> out;
  while (!parked.empty() && int(out.size()) < count) {
    out.push_back(parked.front());
    parked.erase(parked.begin());
  }
  int missing = count - int(out.size());
  if (missing == 0) return out;

  int prefixes = (missing + kIpsPerPrefix - 1) / kIpsPerPrefix;
  std::vector<Cidr> assigned;
  try {
    assigned = ec2_.assign_ipv4_prefixes(eni_id, prefixes);
  } catch (const Ec2Error& e) {
    if (e.aws_code() != "InsufficientCidrBlocks") {
      parked.insert(parked.begin(), out.begin(), out.end());
      throw provider_error(e, "AssignPrivateIpAddresses");
    }
    // The subnet has free addresses but no free aligned /28: single addresses still work.
    log::warn("aws: no free /28 prefix in the subnet, assigning single IPs", {{"eni", eni_id}});
    try {
      // A single address takes a whole prefix slot: ask for no more than the ENI has slots.
      std::vector<NetworkInterface> found = ec2_.describe_network_interfaces({eni_id});
      int used = found.empty() ? 0 : int(found.front().private_ips.size() + found.front().ipv4_prefixes.size());
      int singles_wanted = std::min(missing, ips_per_eni_limit_ - used);
      if (singles_wanted <= 0) {
        throw Ec2Error("PrivateIpAddressLimitExceeded",
                       "no free /28 in the subnet and every address slot of " + eni_id + " is used", 400);
      }
      std::vector<IpAddress> singles = ec2_.assign_private_ips(eni_id, singles_wanted);
      out.insert(out.end(), singles.begin(), singles.end());
      return out;
    } catch (const Ec2Error& fallback_error) {
      parked.insert(parked.begin(), out.begin(), out.end());
      throw provider_error(fallback_error, "AssignPrivateIpAddresses");
    }
  }
  for (const Cidr& prefix : assigned) {
    for (const IpAddress& ip : prefix_addresses(prefix)) {
      if (int(out.size()) < count) {
        out.push_back(ip);
      } else {
        parked.push_back(ip);
      }
    }
  }
  return out;
}

void AwsProvider::unassign_ips(const std::string& eni_id, const std::vector<IpAddress>& ips) {
  require_described("unassign_ips");
  if (ips.empty()) return;
  std::vector<NetworkInterface> found =
      ec2_call("DescribeNetworkInterfaces", [&] { return ec2_.describe_network_interfaces({eni_id}); });
  if (found.empty()) throw ProviderError(ProviderErrc::other, "EC2 does not know ENI " + eni_id);
  const NetworkInterface& eni = found.front();

  std::vector<IpAddress> singles;
  std::vector<IpAddress> in_prefixes;
  for (const IpAddress& ip : ips) {
    bool in_prefix = std::any_of(eni.ipv4_prefixes.begin(), eni.ipv4_prefixes.end(),
                                 [&](const Cidr& p) { return p.contains(ip); });
    (in_prefix ? in_prefixes : singles).push_back(ip);
  }
  if (!singles.empty()) {
    ec2_call("UnassignPrivateIpAddresses", [&] { ec2_.unassign_private_ips(eni_id, singles); });
  }
  if (in_prefixes.empty()) return;

  std::vector<IpAddress>& parked = parked_[eni_id];
  for (const IpAddress& ip : in_prefixes) {
    if (!contains(parked, ip)) parked.push_back(ip);
  }
  std::vector<Cidr> whole;
  for (const Cidr& prefix : eni.ipv4_prefixes) {
    std::vector<IpAddress> members = prefix_addresses(prefix);
    if (std::all_of(members.begin(), members.end(), [&](const IpAddress& ip) { return contains(parked, ip); })) {
      whole.push_back(prefix);
    }
  }
  if (whole.empty()) return;
  ec2_call("UnassignPrivateIpAddresses", [&] { ec2_.unassign_ipv4_prefixes(eni_id, whole); });
  std::erase_if(parked, [&](const IpAddress& ip) {
    return std::any_of(whole.begin(), whole.end(), [&](const Cidr& p) { return p.contains(ip); });
  });
}

int AwsProvider::sweep_leaked() {
  if (!described_) return 0;
  auto now = options_.now();
  if (last_sweep_ != std::chrono::system_clock::time_point{} && now - last_sweep_ < options_.sweep_interval) return 0;
  std::vector<NetworkInterface> candidates = ec2_call("DescribeNetworkInterfaces", [&] {
    return ec2_.describe_network_interfaces(
        {}, {Filter{std::string("tag:") + kInstanceTag, {instance_id_}}, Filter{"status", {"available"}}});
  });
  last_sweep_ = now;
  int deleted = 0;
  for (const NetworkInterface& eni : candidates) {
    // The filters already say so; checked again because deleting the wrong ENI is not undoable.
    if (eni.status != "available" || tag_value(eni, kInstanceTag) != instance_id_) continue;
    // An ENI whose age cannot be read is never swept.
    std::optional<std::chrono::system_clock::time_point> created = parse_iso8601_utc(tag_value(eni, kCreatedAtTag));
    if (!created || now - *created < options_.leaked_eni_grace) continue;
    ec2_call("DeleteNetworkInterface", [&] { ec2_.delete_network_interface(eni.id); });
    ++deleted;
    log::info("aws: deleted a leaked ENI", {{"eni", eni.id}, {"created_at", tag_value(eni, kCreatedAtTag)}});
  }
  return deleted;
}

}  // namespace vpcri::net::aws

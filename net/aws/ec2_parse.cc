#include "net/aws/ec2_parse.h"

#include <algorithm>

#include "common/text.h"
#include "net/aws/query_protocol.h"

namespace vpcri::net::aws {
namespace {

int to_int(const std::string& text, int fallback) {
  try {
    return text.empty() ? fallback : std::stoi(text);
  } catch (const std::exception&) {
    throw Ec2Error("MalformedResponse", "EC2 answered a non-number: " + text, 200);
  }
}

}  // namespace

IpAddress parse_ip(const std::string& text, const char* what) {
  auto ip = IpAddress::parse(text);
  if (!ip) throw Ec2Error("MalformedResponse", std::string("EC2 answered a bad ") + what + ": '" + text + "'", 200);
  return *ip;
}

Cidr parse_cidr(const std::string& text, const char* what) {
  auto cidr = Cidr::parse(text);
  if (!cidr) throw Ec2Error("MalformedResponse", std::string("EC2 answered a bad ") + what + ": '" + text + "'", 200);
  return *cidr;
}

std::vector<Tag> parse_tags(const pugi::xml_node& parent) {
  std::vector<Tag> tags;
  for (const auto& item : items(parent, "tagSet")) tags.push_back({child_text(item, "key"), child_text(item, "value")});
  return tags;
}

NetworkInterface parse_network_interface(const pugi::xml_node& node) {
  NetworkInterface eni;
  eni.id = child_text(node, "networkInterfaceId");
  eni.subnet_id = child_text(node, "subnetId");
  eni.vpc_id = child_text(node, "vpcId");
  eni.availability_zone = child_text(node, "availabilityZone");
  eni.mac_address = to_lower(child_text(node, "macAddress"));
  eni.status = child_text(node, "status");
  eni.description = child_text(node, "description");
  for (const auto& group : items(node, "groupSet")) eni.security_group_ids.push_back(child_text(group, "groupId"));
  for (const auto& item : items(node, "privateIpAddressesSet")) {
    eni.private_ips.push_back(
        {parse_ip(child_text(item, "privateIpAddress"), "private IP"), child_text(item, "primary") == "true"});
  }
  std::stable_partition(eni.private_ips.begin(), eni.private_ips.end(), [](const PrivateIp& ip) { return ip.primary; });
  for (const auto& item : items(node, "ipv4PrefixSet")) {
    eni.ipv4_prefixes.push_back(parse_cidr(child_text(item, "ipv4Prefix"), "IPv4 prefix"));
  }
  eni.tags = parse_tags(node);
  pugi::xml_node attachment = child(node, "attachment");
  if (attachment) {
    eni.attachment_id = child_text(attachment, "attachmentId");
    eni.instance_id = child_text(attachment, "instanceId");
    eni.device_index = to_int(child_text(attachment, "deviceIndex"), -1);
    eni.attachment_status = child_text(attachment, "status");
    eni.delete_on_termination = child_text(attachment, "deleteOnTermination") == "true";
  }
  return eni;
}

Instance parse_instance(const pugi::xml_node& node) {
  Instance instance;
  instance.id = child_text(node, "instanceId");
  instance.instance_type = child_text(node, "instanceType");
  instance.availability_zone = child_text(child(node, "placement"), "availabilityZone");
  instance.vpc_id = child_text(node, "vpcId");
  instance.subnet_id = child_text(node, "subnetId");
  std::string private_ip = child_text(node, "privateIpAddress");
  if (!private_ip.empty()) instance.private_ip = parse_ip(private_ip, "instance private IP");
  for (const auto& item : items(node, "networkInterfaceSet")) {
    NetworkInterface eni = parse_network_interface(item);
    if (eni.instance_id.empty() && !eni.attachment_id.empty()) eni.instance_id = instance.id;
    if (eni.availability_zone.empty()) eni.availability_zone = instance.availability_zone;
    instance.network_interfaces.push_back(std::move(eni));
  }
  std::sort(instance.network_interfaces.begin(), instance.network_interfaces.end(),
            [](const NetworkInterface& a, const NetworkInterface& b) { return a.device_index < b.device_index; });
  return instance;
}

Subnet parse_subnet(const pugi::xml_node& node) {
  Subnet subnet;
  subnet.id = child_text(node, "subnetId");
  subnet.vpc_id = child_text(node, "vpcId");
  subnet.availability_zone = child_text(node, "availabilityZone");
  subnet.cidr = parse_cidr(child_text(node, "cidrBlock"), "subnet CIDR");
  subnet.available_ip_address_count = to_int(child_text(node, "availableIpAddressCount"), 0);
  subnet.tags = parse_tags(node);
  return subnet;
}

InstanceTypeInfo parse_instance_type(const pugi::xml_node& node) {
  InstanceTypeInfo info;
  info.instance_type = child_text(node, "instanceType");
  pugi::xml_node network = child(node, "networkInfo");
  info.maximum_network_interfaces = to_int(child_text(network, "maximumNetworkInterfaces"), 0);
  info.ipv4_addresses_per_interface = to_int(child_text(network, "ipv4AddressesPerInterface"), 0);
  info.nitro = child_text(node, "hypervisor") == "nitro";
  return info;
}

}  // namespace vpcri::net::aws

// EC2 answer elements (API version 2016-11-15, matched by local name) as the value types of
// ec2_api.h. A malformed address or prefix is an Ec2Error "MalformedResponse".
#pragma once

#include <pugixml.hpp>

#include "net/aws/ec2_api.h"

namespace vpcri::net::aws {

std::vector<Tag> parse_tags(const pugi::xml_node& parent);  // parent's tagSet
// A NetworkInterface (DescribeNetworkInterfaces, CreateNetworkInterface) or an
// InstanceNetworkInterface (DescribeInstances: no availabilityZone nor attachment instanceId).
NetworkInterface parse_network_interface(const pugi::xml_node& node);
Instance parse_instance(const pugi::xml_node& node);
Subnet parse_subnet(const pugi::xml_node& node);
InstanceTypeInfo parse_instance_type(const pugi::xml_node& node);
IpAddress parse_ip(const std::string& text, const char* what);
Cidr parse_cidr(const std::string& text, const char* what);

}  // namespace vpcri::net::aws

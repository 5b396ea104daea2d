#include "net/aws/fake_ec2_api.h"

#include <algorithm>
#include <cstdio>

#include "net/ipam/ipv4.h"

namespace vpcri::net::aws::testing {
namespace {

using ipam::ipv4_from_u32;
using ipam::ipv4_to_u32;

constexpr int kPrefixSize = 16;

std::string hex_id(const std::string& prefix, int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s-%017x", prefix.c_str(), static_cast<unsigned>(n));
  return buf;
}

std::string mac_for(int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0a:00:00:00:%02x:%02x", (n >> 8) & 0xff, n & 0xff);
  return buf;
}

// AWS reserves the network address, the next three (router, DNS, future) and the last one.
uint32_t first_usable(const Cidr& c) { return ipv4_to_u32(c.network) + 4; }
uint32_t last_usable(const Cidr& c) { return ipv4_to_u32(c.network) + uint32_t(ipam::ipv4_cidr_size(c)) - 2; }

}  // namespace

Ec2Error ec2_error(const std::string& code, const std::string& message) {
  bool throttle = code == "RequestLimitExceeded";
  return Ec2Error(code, message, throttle ? 503 : 400, "req-fake");
}

void FakeEc2Api::add_subnet(const std::string& id, const std::string& cidr, const std::string& vpc_id,
                            const std::string& az) {
  std::lock_guard lock(mu_);
  SubnetState s;
  s.subnet.id = id;
  s.subnet.vpc_id = vpc_id;
  s.subnet.availability_zone = az;
  s.subnet.cidr = *Cidr::parse(cidr);
  refresh_available_locked(s);
  subnets_[id] = std::move(s);
}

void FakeEc2Api::add_instance_type(InstanceTypeInfo info) {
  std::lock_guard lock(mu_);
  types_[info.instance_type] = info;
}

std::string FakeEc2Api::add_instance(const std::string& instance_id, const std::string& type,
                                     const std::string& subnet_id, const std::vector<std::string>& security_groups) {
  std::lock_guard lock(mu_);
  SubnetState& subnet = subnet_locked(subnet_id);
  InstanceState st;
  st.instance.id = instance_id;
  st.instance.instance_type = type;
  st.instance.availability_zone = subnet.subnet.availability_zone;
  st.instance.vpc_id = subnet.subnet.vpc_id;
  st.instance.subnet_id = subnet_id;
  st.security_groups = security_groups;
  NetworkInterface eni = new_eni_locked(subnet_id, security_groups, "primary network interface", {});
  eni.status = "in-use";
  eni.attachment_id = hex_id("eni-attach", next_id_++);
  eni.instance_id = instance_id;
  eni.device_index = 0;
  eni.attachment_status = "attached";
  eni.delete_on_termination = true;
  st.instance.private_ip = eni.private_ips.front().address;
  enis_[eni.id].eni = eni;
  instances_[instance_id] = std::move(st);
  return eni.id;
}

void FakeEc2Api::consume_addresses(const std::string& subnet_id, int count) {
  std::lock_guard lock(mu_);
  SubnetState& s = subnet_locked(subnet_id);
  for (int i = 0; i < count; ++i) take_address_locked(s);
}

std::string FakeEc2Api::add_detached_eni(const std::string& subnet_id, std::vector<Tag> tags) {
  std::lock_guard lock(mu_);
  NetworkInterface eni = new_eni_locked(subnet_id, {}, "made outside the provider", std::move(tags));
  enis_[eni.id].eni = eni;
  return eni.id;
}

void FakeEc2Api::fail_next(const std::string& call, const Ec2Error& error, int times) {
  std::lock_guard lock(mu_);
  for (int i = 0; i < times; ++i) failures_[call].push_back(error);
}

void FakeEc2Api::deny(const std::string& call) {
  std::lock_guard lock(mu_);
  denied_.insert(call);
}

void FakeEc2Api::set_no_free_prefixes(const std::string& subnet_id, bool value) {
  std::lock_guard lock(mu_);
  subnet_locked(subnet_id).no_free_prefixes = value;
}

int FakeEc2Api::calls(const std::string& call) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(call);
  return it == calls_.end() ? 0 : it->second;
}

std::optional<NetworkInterface> FakeEc2Api::find_eni(const std::string& eni_id) const {
  std::lock_guard lock(mu_);
  auto it = enis_.find(eni_id);
  if (it == enis_.end()) return std::nullopt;
  return it->second.eni;
}

std::vector<NetworkInterface> FakeEc2Api::all_enis() const {
  std::lock_guard lock(mu_);
  std::vector<NetworkInterface> out;
  for (const auto& [id, st] : enis_) out.push_back(st.eni);
  return out;
}

long FakeEc2Api::free_addresses(const std::string& subnet_id) const {
  std::lock_guard lock(mu_);
  auto it = subnets_.find(subnet_id);
  return it == subnets_.end() ? 0 : it->second.subnet.available_ip_address_count;
}

std::vector<CreateNetworkInterfaceRequest> FakeEc2Api::create_requests() const {
  std::lock_guard lock(mu_);
  return create_requests_;
}

void FakeEc2Api::enter(const std::string& call) {
  ++calls_[call];
  if (denied_.count(call) != 0) {
    throw Ec2Error("UnauthorizedOperation", "You are not authorized to perform this operation.", 403, "req-fake");
  }
  auto it = failures_.find(call);
  if (it == failures_.end() || it->second.empty()) return;
  Ec2Error error = it->second.front();
  it->second.pop_front();
  throw error;
}

FakeEc2Api::EniState& FakeEc2Api::eni_locked(const std::string& eni_id) {
  auto it = enis_.find(eni_id);
  if (it == enis_.end()) {
    throw ec2_error("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '" + eni_id + "' does not exist");
  }
  return it->second;
}

FakeEc2Api::SubnetState& FakeEc2Api::subnet_locked(const std::string& subnet_id) {
  auto it = subnets_.find(subnet_id);
  if (it == subnets_.end()) throw ec2_error("InvalidSubnetID.NotFound", "The subnet ID '" + subnet_id + "' does not exist");
  return it->second;
}

const InstanceTypeInfo& FakeEc2Api::type_of_locked(const std::string& instance_id) {
  auto it = instances_.find(instance_id);
  if (it == instances_.end()) {
    throw ec2_error("InvalidInstanceID.NotFound", "The instance ID '" + instance_id + "' does not exist");
  }
  auto type = types_.find(it->second.instance.instance_type);
  if (type == types_.end()) throw ec2_error("InternalError", "fake: unknown instance type");
  return type->second;
}

void FakeEc2Api::refresh_available_locked(SubnetState& s) {
  long usable = long(last_usable(s.subnet.cidr)) - long(first_usable(s.subnet.cidr)) + 1;
  s.subnet.available_ip_address_count = usable - long(s.used.size());
}

uint32_t FakeEc2Api::take_address_locked(SubnetState& s) {
  for (uint32_t a = first_usable(s.subnet.cidr); a <= last_usable(s.subnet.cidr); ++a) {
    if (s.used.insert(a).second) {
      refresh_available_locked(s);
      return a;
    }
  }
  throw ec2_error("InsufficientFreeAddressesInSubnet",
                  "The specified subnet " + s.subnet.id + " does not have enough free addresses to satisfy the request.");
}

std::optional<uint32_t> FakeEc2Api::take_prefix_locked(SubnetState& s) {
  if (s.no_free_prefixes) return std::nullopt;
  uint32_t base = ipv4_to_u32(s.subnet.cidr.network);
  uint32_t end = base + uint32_t(ipam::ipv4_cidr_size(s.subnet.cidr));
  for (uint32_t p = base; p + kPrefixSize <= end; p += kPrefixSize) {
    bool free = true;
    for (uint32_t a = p; a < p + kPrefixSize && free; ++a) {
      free = a >= first_usable(s.subnet.cidr) && a <= last_usable(s.subnet.cidr) && s.used.count(a) == 0;
    }
    if (!free) continue;
    for (uint32_t a = p; a < p + kPrefixSize; ++a) s.used.insert(a);
    refresh_available_locked(s);
    return p;
  }
  return std::nullopt;
}

void FakeEc2Api::release_address_locked(const std::string& subnet_id, const IpAddress& ip) {
  SubnetState& s = subnet_locked(subnet_id);
  s.used.erase(ipv4_to_u32(ip));
  refresh_available_locked(s);
}

NetworkInterface FakeEc2Api::new_eni_locked(const std::string& subnet_id, std::vector<std::string> groups,
                                            std::string description, std::vector<Tag> tags) {
  SubnetState& s = subnet_locked(subnet_id);
  NetworkInterface eni;
  int n = next_id_++;
  eni.id = hex_id("eni", n);
  eni.subnet_id = subnet_id;
  eni.vpc_id = s.subnet.vpc_id;
  eni.availability_zone = s.subnet.availability_zone;
  eni.mac_address = mac_for(n);
  eni.status = "available";
  eni.description = std::move(description);
  eni.security_group_ids = std::move(groups);
  eni.private_ips.push_back({ipv4_from_u32(take_address_locked(s)), true});
  eni.tags = std::move(tags);
  return eni;
}

// Each private IP and each prefix takes one of the type's IPv4-per-ENI slots.
void FakeEc2Api::check_slots_locked(const NetworkInterface& eni, int more) {
  if (eni.instance_id.empty()) return;
  const InstanceTypeInfo& type = type_of_locked(eni.instance_id);
  if (int(eni.private_ips.size() + eni.ipv4_prefixes.size()) + more > type.ipv4_addresses_per_interface) {
    throw ec2_error("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit for " + type.instance_type);
  }
}

bool FakeEc2Api::matches(const NetworkInterface& eni, const std::vector<Filter>& filters) const {
  for (const Filter& f : filters) {
    auto any = [&f](const std::string& value) {
      return std::find(f.values.begin(), f.values.end(), value) != f.values.end();
    };
    if (f.name == "attachment.instance-id") {
      if (!any(eni.instance_id)) return false;
    } else if (f.name == "status") {
      if (!any(eni.status)) return false;
    } else if (f.name == "subnet-id") {
      if (!any(eni.subnet_id)) return false;
    } else if (f.name.rfind("tag:", 0) == 0) {
      std::string key = f.name.substr(4);
      bool hit = std::any_of(eni.tags.begin(), eni.tags.end(),
                             [&](const Tag& t) { return t.key == key && any(t.value); });
      if (!hit) return false;
    } else if (f.name == "tag-key") {
      bool hit = std::any_of(eni.tags.begin(), eni.tags.end(), [&](const Tag& t) { return any(t.key); });
      if (!hit) return false;
    } else {
      throw ec2_error("InvalidParameterValue", "The filter '" + f.name + "' is invalid");
    }
  }
  return true;
}

Instance FakeEc2Api::describe_instance(const std::string& instance_id) {
  std::lock_guard lock(mu_);
  enter("describe_instance");
  auto it = instances_.find(instance_id);
  if (it == instances_.end()) {
    throw ec2_error("InvalidInstanceID.NotFound", "The instance ID '" + instance_id + "' does not exist");
  }
  Instance out = it->second.instance;
  for (const auto& [id, st] : enis_) {
    if (st.eni.instance_id == instance_id) out.network_interfaces.push_back(st.eni);
  }
  std::sort(out.network_interfaces.begin(), out.network_interfaces.end(),
            [](const NetworkInterface& a, const NetworkInterface& b) { return a.device_index < b.device_index; });
  return out;
}

std::vector<InstanceTypeInfo> FakeEc2Api::describe_instance_types(const std::vector<std::string>& types) {
  std::lock_guard lock(mu_);
  enter("describe_instance_types");
  std::vector<InstanceTypeInfo> out;
  for (const std::string& t : types) {
    auto it = types_.find(t);
    if (it == types_.end()) throw ec2_error("InvalidInstanceType", "The following supplied instance types do not exist: [" + t + "]");
    out.push_back(it->second);
  }
  return out;
}

std::vector<Subnet> FakeEc2Api::describe_subnets(const std::vector<std::string>& subnet_ids,
                                                 const std::vector<Filter>& filters) {
  std::lock_guard lock(mu_);
  enter("describe_subnets");
  if (!filters.empty()) throw ec2_error("InvalidParameterValue", "fake: subnet filters are not supported");
  std::vector<Subnet> out;
  if (subnet_ids.empty()) {
    for (const auto& [id, s] : subnets_) out.push_back(s.subnet);
  }
  for (const std::string& id : subnet_ids) out.push_back(subnet_locked(id).subnet);
  return out;
}

std::vector<NetworkInterface> FakeEc2Api::describe_network_interfaces(const std::vector<std::string>& eni_ids,
                                                                      const std::vector<Filter>& filters) {
  std::lock_guard lock(mu_);
  enter("describe_network_interfaces");
  std::vector<EniState*> candidates;
  if (eni_ids.empty()) {
    for (auto& [id, st] : enis_) candidates.push_back(&st);
  }
  for (const std::string& id : eni_ids) candidates.push_back(&eni_locked(id));
  std::vector<NetworkInterface> out;
  for (EniState* st : candidates) {
    if (st->detach_countdown > 0 && --st->detach_countdown == 0) {
      st->eni.status = "available";
      st->eni.attachment_id.clear();
      st->eni.instance_id.clear();
      st->eni.device_index = -1;
      st->eni.attachment_status.clear();
      st->eni.delete_on_termination = false;
    }
    if (matches(st->eni, filters)) out.push_back(st->eni);
  }
  return out;
}

NetworkInterface FakeEc2Api::create_network_interface(const CreateNetworkInterfaceRequest& request) {
  std::lock_guard lock(mu_);
  enter("create_network_interface");
  create_requests_.push_back(request);
  if (!request.client_token.empty()) {
    auto it = tokens_.find(request.client_token);
    if (it != tokens_.end()) return eni_locked(it->second).eni;
  }
  NetworkInterface eni = new_eni_locked(request.subnet_id, request.security_group_ids, request.description, request.tags);
  enis_[eni.id].eni = eni;
  if (!request.client_token.empty()) tokens_[request.client_token] = eni.id;
  return eni;
}

std::string FakeEc2Api::attach_network_interface(const std::string& eni_id, const std::string& instance_id,
                                                 int device_index) {
  std::lock_guard lock(mu_);
  enter("attach_network_interface");
  EniState& st = eni_locked(eni_id);
  const InstanceTypeInfo& type = type_of_locked(instance_id);
  if (!st.eni.attachment_id.empty()) {
    throw ec2_error("InvalidNetworkInterface.InUse", "Interface: [" + eni_id + "] in use.");
  }
  int attached = 0;
  for (const auto& [id, other] : enis_) {
    if (other.eni.instance_id != instance_id) continue;
    ++attached;
    if (other.eni.device_index == device_index) {
      throw ec2_error("InvalidParameterValue", "Instance '" + instance_id +
                                                   "' already has an interface attached at device index '" +
                                                   std::to_string(device_index) + "'.");
    }
  }
  if (attached >= type.maximum_network_interfaces) {
    throw ec2_error("AttachmentLimitExceeded", "Interface count " + std::to_string(attached + 1) +
                                                   " exceeds the limit for " + type.instance_type);
  }
  st.eni.status = "in-use";
  st.eni.attachment_id = hex_id("eni-attach", next_id_++);
  st.eni.instance_id = instance_id;
  st.eni.device_index = device_index;
  st.eni.attachment_status = "attached";
  return st.eni.attachment_id;
}

void FakeEc2Api::set_delete_on_termination(const std::string& eni_id, const std::string& attachment_id,
                                           bool delete_on_termination) {
  std::lock_guard lock(mu_);
  enter("set_delete_on_termination");
  EniState& st = eni_locked(eni_id);
  if (st.eni.attachment_id != attachment_id) {
    throw ec2_error("InvalidAttachmentID.NotFound", "The attachment ID '" + attachment_id + "' does not exist");
  }
  st.eni.delete_on_termination = delete_on_termination;
}

void FakeEc2Api::detach_network_interface(const std::string& attachment_id, bool force) {
  (void)force;
  std::lock_guard lock(mu_);
  enter("detach_network_interface");
  for (auto& [id, st] : enis_) {
    if (st.eni.attachment_id != attachment_id) continue;
    if (st.eni.device_index == 0) {
      throw ec2_error("OperationNotPermitted", "The network interface at device index 0 cannot be detached.");
    }
    st.eni.attachment_status = "detaching";
    st.detach_countdown = detach_delay_;
    if (detach_delay_ == 0) {
      st.detach_countdown = -1;
      st.eni.status = "available";
      st.eni.attachment_id.clear();
      st.eni.instance_id.clear();
      st.eni.device_index = -1;
      st.eni.attachment_status.clear();
      st.eni.delete_on_termination = false;
    }
    return;
  }
  throw ec2_error("InvalidAttachmentID.NotFound", "The attachment ID '" + attachment_id + "' does not exist");
}

void FakeEc2Api::delete_network_interface(const std::string& eni_id) {
  std::lock_guard lock(mu_);
  enter("delete_network_interface");
  EniState& st = eni_locked(eni_id);
  if (st.eni.status != "available") {
    throw ec2_error("InvalidNetworkInterface.InUse", "The network interface " + eni_id + " is currently in use.");
  }
  for (const PrivateIp& ip : st.eni.private_ips) release_address_locked(st.eni.subnet_id, ip.address);
  for (const Cidr& p : st.eni.ipv4_prefixes) {
    for (uint32_t a = 0; a < kPrefixSize; ++a) {
      release_address_locked(st.eni.subnet_id, ipv4_from_u32(ipv4_to_u32(p.network) + a));
    }
  }
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    it = it->second == eni_id ? tokens_.erase(it) : std::next(it);
  }
  enis_.erase(eni_id);
}

std::vector<IpAddress> FakeEc2Api::assign_private_ips(const std::string& eni_id, int count) {
  std::lock_guard lock(mu_);
  enter("assign_private_ips");
  EniState& st = eni_locked(eni_id);
  check_slots_locked(st.eni, count);
  SubnetState& s = subnet_locked(st.eni.subnet_id);
  if (s.subnet.available_ip_address_count < count) {
    throw ec2_error("InsufficientFreeAddressesInSubnet",
                    "The specified subnet " + s.subnet.id + " does not have enough free addresses to satisfy the request.");
  }
  std::vector<IpAddress> out;
  for (int i = 0; i < count; ++i) {
    IpAddress ip = ipv4_from_u32(take_address_locked(s));
    st.eni.private_ips.push_back({ip, false});
    out.push_back(ip);
  }
  return out;
}

std::vector<Cidr> FakeEc2Api::assign_ipv4_prefixes(const std::string& eni_id, int count) {
  std::lock_guard lock(mu_);
  enter("assign_ipv4_prefixes");
  EniState& st = eni_locked(eni_id);
  check_slots_locked(st.eni, count);
  SubnetState& s = subnet_locked(st.eni.subnet_id);
  std::vector<Cidr> out;
  for (int i = 0; i < count; ++i) {
    std::optional<uint32_t> p = take_prefix_locked(s);
    if (!p) {
      for (const Cidr& taken : out) {  // all or nothing, as EC2
        for (uint32_t a = 0; a < kPrefixSize; ++a) s.used.erase(ipv4_to_u32(taken.network) + a);
      }
      refresh_available_locked(s);
      throw ec2_error("InsufficientCidrBlocks",
                      "The specified subnet does not have enough free cidr blocks to satisfy the request.");
    }
    out.push_back(Cidr{ipv4_from_u32(*p), 28});
  }
  for (const Cidr& c : out) st.eni.ipv4_prefixes.push_back(c);
  return out;
}

void FakeEc2Api::unassign_private_ips(const std::string& eni_id, const std::vector<IpAddress>& ips) {
  std::lock_guard lock(mu_);
  enter("unassign_private_ips");
  EniState& st = eni_locked(eni_id);
  for (const IpAddress& ip : ips) {
    auto it = std::find_if(st.eni.private_ips.begin(), st.eni.private_ips.end(),
                           [&](const PrivateIp& p) { return p.address == ip; });
    if (it == st.eni.private_ips.end() || it->primary) {
      throw ec2_error("InvalidParameterValue", "Some of the specified addresses are not assigned to interface " + eni_id);
    }
  }
  for (const IpAddress& ip : ips) {
    std::erase_if(st.eni.private_ips, [&](const PrivateIp& p) { return p.address == ip; });
    release_address_locked(st.eni.subnet_id, ip);
  }
}

void FakeEc2Api::unassign_ipv4_prefixes(const std::string& eni_id, const std::vector<Cidr>& prefixes) {
  std::lock_guard lock(mu_);
  enter("unassign_ipv4_prefixes");
  EniState& st = eni_locked(eni_id);
  for (const Cidr& p : prefixes) {
    if (std::find(st.eni.ipv4_prefixes.begin(), st.eni.ipv4_prefixes.end(), p) == st.eni.ipv4_prefixes.end()) {
      throw ec2_error("InvalidParameterValue", "Prefix " + p.to_string() + " is not assigned to interface " + eni_id);
    }
  }
  for (const Cidr& p : prefixes) {
    std::erase(st.eni.ipv4_prefixes, p);
    for (uint32_t a = 0; a < kPrefixSize; ++a) {
      release_address_locked(st.eni.subnet_id, ipv4_from_u32(ipv4_to_u32(p.network) + a));
    }
  }
}

}  // namespace vpcri::net::aws::testing

#include "net/ipam/local_provider.h"

#include <charconv>

#include "common/log.h"
#include "net/ipam/ipv4.h"

namespace vpcri::net::ipam {
namespace {

constexpr std::string_view kEniPrefix = "eni-local-";

}  // namespace

LocalProvider::LocalProvider(LocalProviderConfig config) : config_(std::move(config)) {
  const Cidr& range = config_.node_range;
  if (range.network.family != AF_INET) {
    throw Error(Errc::unimplemented, "local IPAM provider: node range " + range.to_string() +
                                         " is not IPv4; only IPv4 ranges are supported for now");
  }
  if (config_.ips_per_eni < 2) {
    throw Error(Errc::invalid_argument, "local IPAM provider: ips_per_eni is " + std::to_string(config_.ips_per_eni) +
                                            ", it must be at least 2 (the ENI's primary IP plus one pod IP)");
  }
  if (config_.max_enis < 1) {
    throw Error(Errc::invalid_argument,
                "local IPAM provider: max_enis is " + std::to_string(config_.max_enis) + ", it must be at least 1");
  }
  // The network address and the last (broadcast) address are never used.
  uint64_t size = ipv4_cidr_size(range);
  uint64_t usable = size >= 4 ? size - 2 : 0;
  uint64_t fit = usable / static_cast<uint64_t>(config_.ips_per_eni);
  if (fit < 1) {
    throw Error(Errc::invalid_argument, "local IPAM provider: node range " + range.to_string() + " has " +
                                            std::to_string(usable) + " usable addresses, too few for one ENI of " +
                                            std::to_string(config_.ips_per_eni) +
                                            " addresses; use a larger range or a smaller ips_per_eni");
  }
  max_enis_ = static_cast<int>(std::min<uint64_t>(fit, static_cast<uint64_t>(config_.max_enis)));
  if (max_enis_ < config_.max_enis) {
    log::warn("local IPAM provider: node range too small for the configured ENIs, using fewer",
              {{"range", range.to_string()},
               {"configured_max_enis", std::to_string(config_.max_enis)},
               {"max_enis", std::to_string(max_enis_)}});
  }
  attached_.resize(static_cast<size_t>(max_enis_));
  attached_[0] = Assigned{};  // the primary ENI is always attached
}

uint32_t LocalProvider::block_start(int device) const {
  return 1 + static_cast<uint32_t>(device) * static_cast<uint32_t>(config_.ips_per_eni);
}

IpAddress LocalProvider::address_at(uint32_t offset) const {
  return ipv4_from_u32(ipv4_to_u32(config_.node_range.network) + offset);
}

std::string LocalProvider::eni_id(int device) const { return std::string(kEniPrefix) + std::to_string(device); }

int LocalProvider::device_of(const std::string& id) const {
  if (id.compare(0, kEniPrefix.size(), kEniPrefix) != 0) return -1;
  int device = -1;
  const char* first = id.data() + kEniPrefix.size();
  const char* last = id.data() + id.size();
  auto [ptr, ec] = std::from_chars(first, last, device);
  if (ec != std::errc() || ptr != last || first == last || device < 0 || device >= max_enis_) return -1;
  if (eni_id(device) != id) return -1;  // refuses "eni-local-01"
  return device;
}

EniInfo LocalProvider::describe_locked(int device) const {
  EniInfo eni;
  eni.id = eni_id(device);
  eni.device_number = device;
  eni.subnet_id = config_.subnet_id;
  eni.subnet_cidr = config_.node_range;
  eni.primary_ip = address_at(block_start(device));
  for (uint32_t offset : *attached_[static_cast<size_t>(device)]) eni.secondary_ips.push_back(address_at(offset));
  return eni;
}

NodeInfo LocalProvider::describe_node() {
  NodeInfo node;
  node.instance_id = config_.instance_id;
  node.instance_type = "local";
  node.max_enis = max_enis_;
  node.ips_per_eni = config_.ips_per_eni;
  node.primary_eni_id = eni_id(0);
  node.primary_device_number = 0;
  node.subnet_id = config_.subnet_id;
  node.subnet_cidr = config_.node_range;
  node.primary_ip = address_at(block_start(0));
  return node;
}

std::vector<EniInfo> LocalProvider::list_enis() {
  std::lock_guard lock(mu_);
  std::vector<EniInfo> out;
  for (int d = 0; d < max_enis_; ++d) {
    if (attached_[static_cast<size_t>(d)]) out.push_back(describe_locked(d));
  }
  return out;
}

EniInfo LocalProvider::create_eni() {
  std::lock_guard lock(mu_);
  for (int d = 1; d < max_enis_; ++d) {
    auto& slot = attached_[static_cast<size_t>(d)];
    if (!slot) {
      slot = Assigned{};
      return describe_locked(d);
    }
  }
  throw ProviderError(ProviderErrc::eni_limit_reached,
                      "local IPAM provider: all " + std::to_string(max_enis_) + " ENIs of node range " +
                          config_.node_range.to_string() + " are attached");
}

std::vector<IpAddress> LocalProvider::assign_ips(const std::string& id, int count) {
  std::lock_guard lock(mu_);
  int device = device_of(id);
  if (device < 0 || !attached_[static_cast<size_t>(device)]) {
    throw ProviderError(ProviderErrc::other, "local IPAM provider: ENI " + id + " is not attached");
  }
  if (count < 1) {
    throw ProviderError(ProviderErrc::other, "local IPAM provider: asked to assign " + std::to_string(count) + " IPs");
  }
  Assigned& assigned = *attached_[static_cast<size_t>(device)];
  int room = config_.ips_per_eni - 1 - static_cast<int>(assigned.size());
  if (count > room) {
    throw ProviderError(ProviderErrc::eni_limit_reached,
                        "local IPAM provider: ENI " + id + " has room for " + std::to_string(room) +
                            " more IPs, asked for " + std::to_string(count) + " (limit " +
                            std::to_string(config_.ips_per_eni) + " per ENI, primary included)");
  }
  std::vector<IpAddress> out;
  uint32_t first = block_start(device) + 1;
  uint32_t end = block_start(device) + static_cast<uint32_t>(config_.ips_per_eni);
  for (uint32_t offset = first; offset < end && static_cast<int>(out.size()) < count; ++offset) {
    if (assigned.insert(offset).second) out.push_back(address_at(offset));
  }
  return out;
}

void LocalProvider::unassign_ips(const std::string& id, const std::vector<IpAddress>& ips) {
  std::lock_guard lock(mu_);
  int device = device_of(id);
  if (device < 0 || !attached_[static_cast<size_t>(device)]) {
    throw ProviderError(ProviderErrc::other, "local IPAM provider: ENI " + id + " is not attached");
  }
  Assigned& assigned = *attached_[static_cast<size_t>(device)];
  uint32_t base = ipv4_to_u32(config_.node_range.network);
  std::vector<uint32_t> offsets;
  for (const IpAddress& ip : ips) {  // check all first: a failed call changes nothing
    uint32_t offset = ip.family == AF_INET ? ipv4_to_u32(ip) - base : 0;
    if (ip.family != AF_INET || !config_.node_range.contains(ip) || !assigned.count(offset)) {
      throw ProviderError(ProviderErrc::other,
                          "local IPAM provider: " + ip.to_string() + " is not a secondary IP of ENI " + id);
    }
    offsets.push_back(offset);
  }
  for (uint32_t offset : offsets) assigned.erase(offset);
}

void LocalProvider::delete_eni(const std::string& id) {
  std::lock_guard lock(mu_);
  int device = device_of(id);
  if (device == 0) {
    throw ProviderError(ProviderErrc::other, "local IPAM provider: refusing to delete the primary ENI " + id);
  }
  if (device < 0 || !attached_[static_cast<size_t>(device)]) {
    throw ProviderError(ProviderErrc::other, "local IPAM provider: ENI " + id + " is not attached");
  }
  attached_[static_cast<size_t>(device)].reset();
}

void LocalProvider::adopt_enis(const std::vector<EniInfo>& from_checkpoint) {
  auto mismatch = [&](const EniInfo& eni, const std::string& what) {
    return Error(Errc::failed_precondition,
                 "local IPAM provider: checkpoint ENI " + eni.id + " " + what + ", which does not fit node range " +
                     config_.node_range.to_string() + " carved into " + std::to_string(max_enis_) + " ENIs of " +
                     std::to_string(config_.ips_per_eni) +
                     " addresses; the node range or the ENI limits changed since the checkpoint was written");
  };
  std::vector<std::optional<Assigned>> next(static_cast<size_t>(max_enis_));
  std::vector<bool> seen(static_cast<size_t>(max_enis_), false);
  uint32_t base = ipv4_to_u32(config_.node_range.network);
  for (const EniInfo& eni : from_checkpoint) {
    int device = device_of(eni.id);
    if (device < 0) throw mismatch(eni, "is not one of the local ENIs");
    if (eni.device_number != device) throw mismatch(eni, "has device number " + std::to_string(eni.device_number));
    if (eni.primary_ip != address_at(block_start(device))) {
      throw mismatch(eni, "has primary IP " + eni.primary_ip.to_string());
    }
    if (seen[static_cast<size_t>(device)]) throw mismatch(eni, "appears twice");
    seen[static_cast<size_t>(device)] = true;
    Assigned assigned;
    uint32_t first = block_start(device) + 1;
    uint32_t end = block_start(device) + static_cast<uint32_t>(config_.ips_per_eni);
    for (const IpAddress& ip : eni.secondary_ips) {
      uint32_t offset = ip.family == AF_INET ? ipv4_to_u32(ip) - base : 0;
      if (ip.family != AF_INET || !config_.node_range.contains(ip) || offset < first || offset >= end) {
        throw mismatch(eni, "has secondary IP " + ip.to_string());
      }
      assigned.insert(offset);
    }
    next[static_cast<size_t>(device)] = std::move(assigned);
  }
  if (!next[0]) next[0] = Assigned{};  // the primary ENI is always attached
  std::lock_guard lock(mu_);
  attached_ = std::move(next);
}

}  // namespace vpcri::net::ipam

#include "net/ipam/checkpoint.h"

#include <map>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/fs_sync.h"
#include "common/log.h"

namespace vpcri::net::ipam::checkpoint {
namespace {

using nlohmann::json;

constexpr const char* kKind = "vpcri-ipam-checkpoint";
constexpr int kVersion = 1;

Error damaged(const std::string& origin, const std::string& what) {
  return Error(Errc::failed_precondition,
               "IPAM checkpoint " + origin + " is damaged: " + what +
                   "; fix or move the file aside to start with an empty IP pool (IPAM then no longer knows the IPs "
                   "of running pods, which may be handed out again)");
}

// Reads a required member of the expected JSON type.
const json& member(const json& object, const char* key, json::value_t type, const std::string& where,
                   const std::string& origin) {
  auto it = object.find(key);
  if (it == object.end()) throw damaged(origin, where + " has no \"" + key + "\"");
  bool ok = it->type() == type ||
            (type == json::value_t::number_integer && it->type() == json::value_t::number_unsigned);
  if (!ok) throw damaged(origin, where + " field \"" + key + "\" has the wrong type (" + it->type_name() + ")");
  return *it;
}

std::string string_member(const json& object, const char* key, const std::string& where, const std::string& origin) {
  return member(object, key, json::value_t::string, where, origin).get<std::string>();
}

IpAddress parse_ip(const json& value, const std::string& where, const std::string& origin) {
  if (!value.is_string()) throw damaged(origin, where + ": an address is not a string");
  auto ip = IpAddress::parse(value.get<std::string>());
  if (!ip) throw damaged(origin, where + ": \"" + value.get<std::string>() + "\" is not an IP address");
  return *ip;
}

}  // namespace

std::string encode(const DatastoreState& state) {
  json out;
  out["kind"] = kKind;
  out["version"] = kVersion;
  out["enis"] = json::array();
  for (const EniInfo& eni : state.enis) {
    json ips = json::array();
    for (const IpAddress& ip : eni.secondary_ips) ips.push_back(ip.to_string());
    json entry = {{"id", eni.id},
                  {"device_number", eni.device_number},
                  {"subnet_id", eni.subnet_id},
                  {"subnet_cidr", eni.subnet_cidr.to_string()},
                  {"primary_ip", eni.primary_ip.to_string()},
                  {"ips", std::move(ips)}};
    // Optional (version 1 files written before ENIs had MACs have none): the local provider's
    // virtual ENIs have no MAC.
    if (!eni.mac.empty()) entry["mac"] = eni.mac;
    out["enis"].push_back(std::move(entry));
  }
  out["allocations"] = json::array();
  for (const Allocation& a : state.allocations) {
    out["allocations"].push_back({{"sandbox_id", a.sandbox_id},
                                  {"pod_namespace", a.pod_namespace},
                                  {"pod_name", a.pod_name},
                                  {"ip", a.ip.to_string()},
                                  {"eni", a.eni_id}});
  }
  out["cooling"] = json::array();
  for (const IpAddress& ip : state.cooling) out["cooling"].push_back(ip.to_string());
  return out.dump(1) + "\n";
}

DatastoreState decode(std::string_view text, const std::string& origin) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    throw damaged(origin, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!doc.is_object()) throw damaged(origin, "the top level is not a JSON object");
  if (string_member(doc, "kind", "the file", origin) != kKind) {
    throw damaged(origin, "\"kind\" is not \"" + std::string(kKind) + "\"");
  }
  int version = member(doc, "version", json::value_t::number_integer, "the file", origin).get<int>();
  if (version != kVersion) {
    throw damaged(origin, "version " + std::to_string(version) + " is not supported (this vpcri reads version " +
                              std::to_string(kVersion) + ")");
  }

  DatastoreState state;
  const json& enis = member(doc, "enis", json::value_t::array, "the file", origin);
  for (size_t i = 0; i < enis.size(); ++i) {
    const json& e = enis[i];
    std::string where = "ENI #" + std::to_string(i);
    if (!e.is_object()) throw damaged(origin, where + " is not an object");
    EniInfo eni;
    eni.id = string_member(e, "id", where, origin);
    where = "ENI " + eni.id;
    eni.device_number = member(e, "device_number", json::value_t::number_integer, where, origin).get<int>();
    eni.subnet_id = string_member(e, "subnet_id", where, origin);
    if (e.contains("mac")) eni.mac = string_member(e, "mac", where, origin);
    std::string cidr_text = string_member(e, "subnet_cidr", where, origin);
    std::string why;
    auto cidr = Cidr::parse(cidr_text, &why);
    if (!cidr) throw damaged(origin, where + " subnet_cidr \"" + cidr_text + "\": " + why);
    eni.subnet_cidr = *cidr;
    eni.primary_ip = parse_ip(member(e, "primary_ip", json::value_t::string, where, origin), where, origin);
    for (const json& ip : member(e, "ips", json::value_t::array, where, origin)) {
      eni.secondary_ips.push_back(parse_ip(ip, where, origin));
    }
    state.enis.push_back(std::move(eni));
  }
  const json& allocations = member(doc, "allocations", json::value_t::array, "the file", origin);
  for (size_t i = 0; i < allocations.size(); ++i) {
    const json& a = allocations[i];
    std::string where = "allocation #" + std::to_string(i);
    if (!a.is_object()) throw damaged(origin, where + " is not an object");
    Allocation alloc;
    alloc.sandbox_id = string_member(a, "sandbox_id", where, origin);
    where = "allocation of sandbox " + alloc.sandbox_id;
    alloc.pod_namespace = string_member(a, "pod_namespace", where, origin);
    alloc.pod_name = string_member(a, "pod_name", where, origin);
    alloc.ip = parse_ip(member(a, "ip", json::value_t::string, where, origin), where, origin);
    alloc.eni_id = string_member(a, "eni", where, origin);
    state.allocations.push_back(std::move(alloc));
  }
  for (const json& ip : member(doc, "cooling", json::value_t::array, "the file", origin)) {
    state.cooling.push_back(parse_ip(ip, "cooling", origin));
  }
  validate(state, origin);
  return state;
}

void validate(const DatastoreState& state, const std::string& origin) {
  std::map<std::string, const EniInfo*> enis;
  std::map<int, std::string> devices;
  std::map<IpAddress, std::string, IpLess> owner;  // IP -> ENI id (secondary and primary IPs)
  for (const EniInfo& eni : state.enis) {
    if (eni.id.empty()) throw damaged(origin, "an ENI has an empty id");
    if (!enis.emplace(eni.id, &eni).second) throw damaged(origin, "ENI " + eni.id + " appears twice");
    if (auto [it, ok] = devices.emplace(eni.device_number, eni.id); !ok) {
      throw damaged(origin, "ENIs " + it->second + " and " + eni.id + " both have device number " +
                                std::to_string(eni.device_number));
    }
    if (auto [it, ok] = owner.emplace(eni.primary_ip, eni.id); !ok) {
      throw damaged(origin, "IP " + eni.primary_ip.to_string() + " is on both ENI " + it->second + " and ENI " + eni.id);
    }
    for (const IpAddress& ip : eni.secondary_ips) {
      if (auto [it, ok] = owner.emplace(ip, eni.id); !ok) {
        throw damaged(origin, "IP " + ip.to_string() + " is on both ENI " + it->second + " and ENI " + eni.id);
      }
    }
  }
  auto is_secondary_of = [&](const IpAddress& ip, const std::string& eni_id) {
    auto it = owner.find(ip);
    return it != owner.end() && it->second == eni_id && !(enis.at(eni_id)->primary_ip == ip);
  };
  std::set<std::string> sandboxes;
  std::map<IpAddress, std::string, IpLess> held;  // IP -> sandbox
  for (const Allocation& a : state.allocations) {
    if (a.sandbox_id.empty()) throw damaged(origin, "an allocation has an empty sandbox id");
    if (!sandboxes.insert(a.sandbox_id).second) throw damaged(origin, "sandbox " + a.sandbox_id + " appears twice");
    if (!enis.count(a.eni_id) || !is_secondary_of(a.ip, a.eni_id)) {
      throw damaged(origin, "sandbox " + a.sandbox_id + " holds IP " + a.ip.to_string() + " on ENI " + a.eni_id +
                                ", which is not a secondary IP of that ENI in the inventory");
    }
    if (auto [it, ok] = held.emplace(a.ip, a.sandbox_id); !ok) {
      throw damaged(origin, "IP " + a.ip.to_string() + " is held by both sandbox " + it->second + " and sandbox " +
                                a.sandbox_id);
    }
  }
  for (const IpAddress& ip : state.cooling) {
    auto it = owner.find(ip);
    if (it == owner.end() || !is_secondary_of(ip, it->second)) {
      throw damaged(origin, "cooling IP " + ip.to_string() + " is not a secondary IP in the inventory");
    }
    if (held.count(ip)) throw damaged(origin, "IP " + ip.to_string() + " is both cooling down and held by a sandbox");
  }
}

std::optional<DatastoreState> load(const std::string& path) {
  if (!fs::exists(path)) return std::nullopt;
  return decode(fs::read_file(path), path);
}

void save(const std::string& path, const DatastoreState& state, PersistCause cause) {
  std::string_view failpoint_name;
  if (cause == PersistCause::allocation) failpoint_name = "ipam.checkpoint_temp.allocate";
  if (cause == PersistCause::release) failpoint_name = "ipam.checkpoint_temp.release";
  // Durable (fsync), unlike the pod and container records: what this file holds outlives a
  // reboot. The allocations alone would not need it (after a power loss no pod runs, and restore
  // releases every allocation of a sandbox that is not live), but the same file carries the ENI/IP
  // inventory, which still exists in EC2 after a reboot: a checkpoint a power loss rolled back or
  // tore would either name IPs the node no longer holds (given to pods while EC2 may have handed
  // them to another instance) or be refused at start (load() never guesses an empty pool), leaving
  // the node without pod networking. The cost is kept off the datastore lock instead
  // (Datastore::persist_through): concurrent pod starts share one write.
  // An allocation or release leaves the inventory as the previous write made it durable (inventory
  // changes are written as such, and one whose write failed makes the next write an inventory
  // one: Datastore::write_locked), so the rename need not survive a power loss: the older file
  // names the same ENIs and IPs, and its allocations are released at restore (no pod survives a
  // reboot). Only the contents are synced, so the name never points at a torn file.
  if (cause == PersistCause::inventory) {
    fs::write_file_atomic(path, encode(state), 0600, failpoint_name);
  } else {
    fs::write_file_contents_synced(path, encode(state), 0600, failpoint_name);
  }
}

RestoreReport restore(Datastore& datastore, const DatastoreState& state,
                      const std::set<std::string>& live_sandbox_ids) {
  validate(state, "state to restore");
  PoolStats before = datastore.stats();
  if (before.enis > 0 || before.total > 0) {
    throw Error(Errc::failed_precondition, "IPAM restore: the datastore already holds " +
                                               std::to_string(before.enis) + " ENIs; restore only into an empty one");
  }
  for (const EniInfo& eni : state.enis) datastore.add_eni(eni);

  RestoreReport report;
  std::set<std::string> in_checkpoint;
  for (const Allocation& a : state.allocations) {
    in_checkpoint.insert(a.sandbox_id);
    datastore.restore_allocation(a);
    if (live_sandbox_ids.count(a.sandbox_id)) {
      report.kept.push_back(a.sandbox_id);
    } else {
      datastore.release(a.sandbox_id);  // gone while we were down: cool down, flush its conntrack
      report.released.push_back(a.sandbox_id);
    }
  }
  for (const IpAddress& ip : state.cooling) datastore.start_cooldown(ip);
  for (const std::string& id : live_sandbox_ids) {
    if (!in_checkpoint.count(id)) report.live_without_allocation.push_back(id);
  }
  log::info("IPAM restored from checkpoint", {{"enis", std::to_string(state.enis.size())},
                                              {"kept", std::to_string(report.kept.size())},
                                              {"released", std::to_string(report.released.size())},
                                              {"cooling", std::to_string(state.cooling.size())}});
  return report;
}

}  // namespace vpcri::net::ipam::checkpoint

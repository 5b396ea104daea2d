#include "net/datapath/nat_table.h"

#include <netinet/in.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "common/error.h"
#include "common/log.h"
#include "net/datapath/connmark.h"
#include "net/datapath/nft.h"

namespace vpcri::net {

namespace {

bool is_wildcard(const std::string& host_ip) { return host_ip.empty() || host_ip == "0.0.0.0"; }

// Chain names carry the sandbox id: keep them to characters nft takes unquoted.
void check_sandbox_id(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 128;
  for (char c : id) {
    bool good = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                c == '.';
    ok = ok && good;
  }
  if (!ok) throw Error(Errc::invalid_argument, "host ports: bad sandbox id \"" + id + "\" (want 1-128 of [A-Za-z0-9_.-])");
}

std::string describe(const PortMapping& m) {
  return std::string(port_protocol_name(m.protocol)) + " " + (is_wildcard(m.host_ip) ? "*" : m.host_ip) + ":" +
         std::to_string(m.host_port);
}

bool overlap(const PortMapping& a, const PortMapping& b) {
  return a.protocol == b.protocol && a.host_port == b.host_port &&
         (is_wildcard(a.host_ip) || is_wildcard(b.host_ip) || a.host_ip == b.host_ip);
}

// Drops host_port 0, validates the rest, normalises "0.0.0.0" to "".
SandboxHostPorts normalise(const std::string& sandbox_id, SandboxHostPorts ports) {
  check_sandbox_id(sandbox_id);
  if (ports.pod_ip.family != AF_INET) {
    throw Error(Errc::invalid_argument, "host ports of sandbox " + sandbox_id + ": the pod IP must be IPv4");
  }
  if (ports.host_veth.empty() || ports.host_veth.size() > 15 ||
      ports.host_veth.find_first_of("\"/ \t\n") != std::string::npos) {
    throw Error(Errc::invalid_argument,
                "host ports of sandbox " + sandbox_id + ": bad host veth name \"" + ports.host_veth + "\"");
  }
  SandboxHostPorts out{ports.pod_ip, {}, ports.host_veth};
  for (PortMapping m : ports.mappings) {
    if (m.host_port == 0) continue;
    std::string what = "host port " + describe(m) + " of sandbox " + sandbox_id;
    if (m.container_port == 0) throw Error(Errc::invalid_argument, what + ": container port 0");
    if (is_wildcard(m.host_ip)) {
      m.host_ip.clear();
    } else {
      auto ip = IpAddress::parse(m.host_ip);
      if (!ip) throw Error(Errc::invalid_argument, what + ": host_ip is not an IP address");
      if (ip->family != AF_INET) throw Error(Errc::invalid_argument, what + ": IPv6 host_ip is not supported");
      m.host_ip = ip->to_string();
    }
    bool duplicate = false;
    for (const auto& other : out.mappings) {
      if (other == m) duplicate = true;  // the same mapping twice: keep one
      else if (overlap(other, m)) {
        throw Error(Errc::invalid_argument, what + ": overlaps its own mapping " + describe(other) + " -> " +
                                                std::to_string(other.container_port));
      }
    }
    if (!duplicate) out.mappings.push_back(m);
  }
  return out;
}

std::optional<std::string> find_conflict(const std::map<std::string, SandboxHostPorts>& sandboxes,
                                         const std::string& sandbox_id, const SandboxHostPorts& ports) {
  for (const auto& [holder, held] : sandboxes) {
    if (holder == sandbox_id) continue;
    for (const auto& m : ports.mappings) {
      for (const auto& h : held.mappings) {
        if (overlap(m, h)) {
          return "host port " + describe(m) + " is already taken by sandbox " + holder + " (pod IP " +
                 held.pod_ip.to_string() + ", mapping " + describe(h) + " -> " + std::to_string(h.container_port) + ")";
        }
      }
    }
  }
  return std::nullopt;
}

void check_config(const SnatConfig& snat) {
  if (!snat.enabled) return;
  if (snat.interface.empty() || snat.interface.size() > 15 || snat.interface.find('"') != std::string::npos) {
    throw Error(Errc::invalid_argument, "egress SNAT: bad primary interface name \"" + snat.interface + "\"");
  }
  if (snat.node_ip.family != AF_INET) throw Error(Errc::invalid_argument, "egress SNAT: the node IP must be IPv4");
  if (snat.host_veth_prefix.size() > 14 || snat.host_veth_prefix.find_first_of("\"*?[]\\ ") != std::string::npos) {
    throw Error(Errc::invalid_argument, "egress SNAT: bad host veth prefix \"" + snat.host_veth_prefix + "\"");
  }
  for (const auto* list : {&snat.pod_cidrs, &snat.excluded}) {
    for (const auto& c : *list) {
      if (c.network.family != AF_INET) {
        throw Error(Errc::invalid_argument, "egress SNAT: only IPv4 CIDRs are supported, not " + c.to_string());
      }
    }
  }
}

std::string set_of(const std::vector<Cidr>& cidrs) {
  std::string out = "{ ";
  for (size_t i = 0; i < cidrs.size(); ++i) out += (i ? ", " : "") + cidrs[i].to_string();
  return out + " }";
}

// The AWS VPC CNI's connmark rules (iptables: CONNMARK --set-xmark 0x80/0x80 for eni+ to outside
// the VPC and for eth0 to a local address; --restore-mark --mask 0x80 on eni+).
void render_connmark(std::ostringstream& s, const SnatConfig& snat) {
  const std::string veths = "iifname \"" + snat.host_veth_prefix + "*\"";
  const std::string bit = kConnmarkBitText;
  // Before DNAT: a node port or host port is still addressed to the node here.
  s << "  chain connmark-primary {\n"
       "    type filter hook prerouting priority mangle; policy accept;\n";
  s << "    iifname \"" << snat.interface << "\" ct state new fib daddr type local ct mark set ct mark or " << bit
    << " comment \"entering the primary interface for the node: answered through it\"\n";
  s << "  }\n";
  // After DNAT (priority dstnat + 10): a service address is judged by the pod it was DNATed to,
  // so in-VPC service traffic keeps the pod's own route.
  s << "  chain connmark {\n"
       "    type filter hook prerouting priority -90; policy accept;\n";
  s << "    " << veths << " ct state new";
  if (!snat.excluded.empty()) s << " ip daddr != " << set_of(snat.excluded);
  s << " ct mark set ct mark or " << bit << " comment \"pod to outside the VPC: leaves through the primary interface\"\n";
  s << "    " << veths << " ct mark and " << bit << " == " << bit << " meta mark set meta mark or " << bit
    << " comment \"restore the mark for ip rule 1024\"\n";
  s << "  }\n";
}

}  // namespace

const char* port_protocol_name(PortProtocol protocol) {
  switch (protocol) {
    case PortProtocol::tcp: return "tcp";
    case PortProtocol::udp: return "udp";
    case PortProtocol::sctp: return "sctp";
  }
  return "?";
}

bool has_host_port(const std::vector<PortMapping>& mappings) {
  return std::any_of(mappings.begin(), mappings.end(), [](const PortMapping& m) { return m.host_port != 0; });
}

std::string render_nat_table(const SnatConfig& snat, const std::map<std::string, SandboxHostPorts>& sandboxes) {
  std::ostringstream s;
  const std::string table = std::string("ip ") + kNatTableName;
  // "create if missing, then delete" makes the delete succeed on a first start; the whole
  // script is one transaction.
  s << "table " << table << " {}\n";
  s << "delete table " << table << "\n";
  s << "table " << table << " {\n";
  s << "  chain prerouting {\n"
       "    type nat hook prerouting priority dstnat; policy accept;\n"
       "    fib daddr type local jump hostports\n"
       "  }\n";
  s << "  chain output {\n"
       "    type nat hook output priority -100; policy accept;\n"
       "    fib daddr type local jump hostports\n"
       "  }\n";
  s << "  chain postrouting {\n"
       "    type nat hook postrouting priority srcnat; policy accept;\n"
       "    ct status dnat jump hairpin\n";
  if (snat.enabled) {
    s << "    oifname \"" << snat.interface << "\"";
    if (snat.pod_cidrs.empty()) {
      s << " ip saddr != " << snat.node_ip.to_string();
    } else {
      s << " ip saddr " << set_of(snat.pod_cidrs);
    }
    if (!snat.excluded.empty()) s << " ip daddr != " << set_of(snat.excluded);
    s << " snat to " << snat.node_ip.to_string() << " fully-random comment \"vpcri egress SNAT\"\n";
  }
  s << "  }\n";
  s << "  chain hostports {\n";
  for (const auto& [id, ports] : sandboxes) s << "    jump hp-" << id << "\n";
  s << "  }\n";
  const std::string snat_to_node = snat.node_ip.family == AF_INET ? "snat to " + snat.node_ip.to_string() : "masquerade";
  s << "  chain hairpin {\n";
  for (const auto& [id, ports] : sandboxes) {
    std::string pod = ports.pod_ip.to_string();
    s << "    ip saddr " << pod << " ip daddr " << pod << " " << snat_to_node << " comment \"sandbox " << id << "\"\n";
    s << "    ip saddr 127.0.0.0/8 ip daddr " << pod << " " << snat_to_node << " comment \"sandbox " << id
      << " from the node's loopback\"\n";
  }
  s << "  }\n";
  s << "  chain localnet {\n"
       "    type filter hook prerouting priority raw; policy accept;\n";
  for (const auto& [id, ports] : sandboxes) {
    s << "    iifname \"" << ports.host_veth << "\" ip saddr 127.0.0.0/8 drop comment \"sandbox " << id << "\"\n";
    s << "    iifname \"" << ports.host_veth << "\" ip daddr 127.0.0.0/8 drop comment \"sandbox " << id << "\"\n";
  }
  s << "  }\n";
  if (snat.enabled && !snat.host_veth_prefix.empty()) render_connmark(s, snat);
  for (const auto& [id, ports] : sandboxes) {
    s << "  chain hp-" << id << " {\n";
    for (const auto& m : ports.mappings) {
      s << "    ";
      if (!m.host_ip.empty()) s << "ip daddr " << m.host_ip << " ";
      s << port_protocol_name(m.protocol) << " dport " << m.host_port << " dnat to " << ports.pod_ip.to_string()
        << ":" << m.container_port << "\n";
    }
    s << "  }\n";
  }
  s << "}\n";
  return s.str();
}

NatTable::NatTable(SnatConfig snat) : snat_(std::move(snat)) { check_config(snat_); }

void NatTable::apply_locked(const SnatConfig& snat, const std::map<std::string, SandboxHostPorts>& sandboxes) {
  nft_run(render_nat_table(snat, sandboxes), std::string("writing nftables table ip ") + kNatTableName);
}

void NatTable::apply() {
  std::lock_guard lock(mu_);
  apply_locked(snat_, sandboxes_);
}

void NatTable::set_snat(SnatConfig snat) {
  check_config(snat);
  std::lock_guard lock(mu_);
  apply_locked(snat, sandboxes_);
  snat_ = std::move(snat);
}

void NatTable::add_sandbox(const std::string& sandbox_id, SandboxHostPorts ports) {
  SandboxHostPorts normal = normalise(sandbox_id, std::move(ports));
  std::lock_guard lock(mu_);
  if (auto conflict = find_conflict(sandboxes_, sandbox_id, normal)) throw Error(Errc::already_exists, *conflict);
  auto next = sandboxes_;
  if (normal.mappings.empty()) {
    if (next.erase(sandbox_id) == 0) return;  // nothing to write
  } else {
    next[sandbox_id] = std::move(normal);
  }
  apply_locked(snat_, next);
  sandboxes_ = std::move(next);
}

bool NatTable::remove_sandbox(const std::string& sandbox_id) {
  std::lock_guard lock(mu_);
  if (!sandboxes_.count(sandbox_id)) return false;
  auto next = sandboxes_;
  next.erase(sandbox_id);
  apply_locked(snat_, next);
  sandboxes_ = std::move(next);
  return true;
}

std::vector<std::string> NatTable::reconcile(const std::map<std::string, SandboxHostPorts>& live) {
  std::map<std::string, SandboxHostPorts> next;
  std::vector<std::string> skipped;
  for (const auto& [id, ports] : live) {
    try {
      SandboxHostPorts normal = normalise(id, ports);
      if (normal.mappings.empty()) continue;
      if (auto conflict = find_conflict(next, id, normal)) throw Error(Errc::already_exists, *conflict);
      next[id] = std::move(normal);
    } catch (const Error& e) {
      log::warn("host ports of a live sandbox not restored", {{"sandbox", id}, {"error", e.what()}});
      skipped.push_back(id);
    }
  }
  std::lock_guard lock(mu_);
  apply_locked(snat_, next);
  sandboxes_ = std::move(next);
  return skipped;
}

void NatTable::remove_table() {
  std::string table = std::string("ip ") + kNatTableName;
  nft_run("table " + table + " {}\ndelete table " + table + "\n", "deleting nftables table " + table);
}

std::map<std::string, SandboxHostPorts> NatTable::sandboxes() const {
  std::lock_guard lock(mu_);
  return sandboxes_;
}

SnatConfig NatTable::snat() const {
  std::lock_guard lock(mu_);
  return snat_;
}

}  // namespace vpcri::net

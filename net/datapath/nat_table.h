// vpcri's own nftables table, `table ip vpcri`: egress SNAT of pod traffic leaving the node and
// CRI host ports (DNAT). It is the only table vpcri owns and it never touches any other.
//
//   chain prerouting   nat/dstnat   to a node address -> jump hostports        (traffic from outside, other pods)
//   chain output       nat/dstnat   to a node address, 127.0.0.1 included -> jump hostports  (the node itself)
//   chain hostports    one `jump hp-<sandbox>` per sandbox with host ports
//   chain hp-<sandbox> that sandbox's DNAT rules: [ip daddr <host_ip>] <proto> dport <host port> dnat to <pod ip>:<port>
//   chain postrouting  nat/srcnat   ct status dnat -> jump hairpin;
//                      oifname <primary if> ip saddr {pod cidrs} ip daddr != {excluded cidrs} snat to <node ip>
//   chain hairpin      a pod reaching its own host port: snat to the node IP, or the pod would see
//                      its own address as the peer and answer itself; and the node reaching a
//                      host port at 127.0.0.0/8: snat to the node IP (a pod cannot answer 127.0.0.1)
//   chain localnet     filter/raw prerouting: drops 127.0.0.0/8 sources and destinations arriving
//                      on a sandbox's host veth
//   chain connmark-primary  filter/mangle prerouting (with SNAT only, see connmark.h): a new
//                      connection entering the primary interface for a node address (node and host
//                      ports, before their DNAT) gets ct mark 0x80
//   chain connmark     filter prerouting after DNAT (-90): a new connection from a host veth
//                      (iifname "<prefix>*") to outside the excluded CIDRs gets ct mark 0x80; packets
//                      from host veths of a marked connection get mark 0x80, which ip rule 1024
//                      sends through the main table: out of the primary interface and its SNAT,
//                      even for a pod on a secondary ENI
//
// Host ports at 127.0.0.1 (CNI portmap's behaviour): the DNATed packet leaves through the pod's
// host veth still carrying 127.0.0.1 as its source until postrouting, and the pod's replies come
// back to 127.0.0.1 once conntrack undoes the NAT; the kernel drops both as martians unless the
// host veth has route_localnet=1 (set by the caller, per veth, never node-wide). route_localnet
// would also let the pod itself send to the node's 127.0.0.0/8 services through its veth
// (CVE-2020-8558), hence the localnet chain, which runs before conntrack undoes any NAT: it
// only sees addresses as they are on the wire.
//
// The AWS VPC CNI does the SNAT with iptables (AWS-SNAT-CHAIN-0: ! -d <vpc cidr> -j SNAT
// --to-source <primary ip> --random-fully); `external_snat` turns it off there as here.
//
// The table is rendered from this object's state and replaced as a whole in one nftables
// transaction on every change, so the kernel always holds exactly the state of one moment and a
// failed change leaves the previous table in place. Conntrack keeps NAT bindings of established
// flows, so replacing the rules does not disturb them.
//
// Netfilter calls happen in the calling thread's network namespace (the node's).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/cidr.h"

namespace vpcri::net {

inline constexpr const char* kNatTableName = "vpcri";  // `table ip vpcri`

enum class PortProtocol { tcp, udp, sctp };
const char* port_protocol_name(PortProtocol protocol);

// A CRI PortMapping.
struct PortMapping {
  PortProtocol protocol = PortProtocol::tcp;
  uint16_t container_port = 0;
  uint16_t host_port = 0;  // 0: no host port, the mapping is ignored (as kubelet means it)
  std::string host_ip;     // "" or "0.0.0.0": every address of the node
  bool operator==(const PortMapping&) const = default;
};

// True if one of `mappings` has a host port (host_port 0 means none).
bool has_host_port(const std::vector<PortMapping>& mappings);

struct SandboxHostPorts {
  IpAddress pod_ip;
  std::vector<PortMapping> mappings;
  std::string host_veth;  // the pod's host-side interface (route_localnet=1 there): the localnet guard
};

struct SnatConfig {
  bool enabled = true;            // false when SNAT is done elsewhere (external_snat)
  std::string interface;          // the node's primary interface: only traffic leaving through it is SNATed
  IpAddress node_ip;              // the node's primary IP: the SNAT source, and the hairpin source
  std::vector<Cidr> pod_cidrs;    // sources that are pods (empty: any source but node_ip)
  std::vector<Cidr> excluded;     // destinations kept as they are (VPC and cluster CIDRs)
  // Prefix of the pods' host veths: traffic from them is connmarked (see chain connmark). Empty:
  // no connmark rules.
  std::string host_veth_prefix;
};

// The nft script replacing the table (create, delete, define: one transaction). Pure, for tests.
// `sandboxes` must hold only validated entries (see NatTable).
std::string render_nat_table(const SnatConfig& snat, const std::map<std::string, SandboxHostPorts>& sandboxes);

class NatTable {
 public:
  // Validates the config (Error(invalid_argument)); touches nothing yet.
  explicit NatTable(SnatConfig snat);

  // Writes the table from the current state (creates it, or replaces it atomically).
  void apply();
  // Replaces the SNAT config and rewrites the table; on failure the old config stays.
  void set_snat(SnatConfig snat);

  // Adds (or replaces) a sandbox's host ports and rewrites the table. Mappings with host_port 0
  // are dropped; a sandbox without host ports is not recorded. Throws Error(already_exists)
  // naming the sandbox holding a port (same protocol and host port, same or wildcard host IP),
  // Error(invalid_argument) for a bad mapping. Nothing changes on failure.
  void add_sandbox(const std::string& sandbox_id, SandboxHostPorts ports);
  // Removes a sandbox's host ports; true if it had some. Idempotent.
  bool remove_sandbox(const std::string& sandbox_id);
  // Replaces every sandbox at once (after a restart: the live sandboxes from the CRI layer) and
  // rewrites the table. Conflicts between them are logged and the later (by id) is skipped
  // rather than failing the daemon's start; returns the ids skipped.
  std::vector<std::string> reconcile(const std::map<std::string, SandboxHostPorts>& live);

  // Deletes `table ip vpcri` if it exists (the node stops using vpcri's networking).
  static void remove_table();

  std::map<std::string, SandboxHostPorts> sandboxes() const;
  SnatConfig snat() const;

 private:
  void apply_locked(const SnatConfig& snat, const std::map<std::string, SandboxHostPorts>& sandboxes);

  mutable std::mutex mu_;
  SnatConfig snat_;
  std::map<std::string, SandboxHostPorts> sandboxes_;
};

}  // namespace vpcri::net

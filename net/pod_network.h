// Pod networking as the CRI layer uses it: one object owning IPAM (provider + datastore + pool
// manager + checkpoint), the veth datapath and vpcri's nftables table (egress SNAT, host ports).
//
//   PodNetworks net(config);                    // touches nothing yet
//   net.restore(live_sandboxes);                // at start, before serving (sysctls, IPAM, veths, nft)
//   auto r = net.attach({id, ns, name, "/proc/<pause>/ns/net", port_mappings});  // RunPodSandbox
//   net.detach(id);                             // StopPodSandbox / RemovePodSandbox, idempotent
//   net.ready(), net.not_ready_reason(), net.status()   // CRI Status
//
// Kernel calls run in the calling thread's network namespace, which must be the node's (the
// daemon's own). Tests run the whole object inside a test node namespace (run_in_netns).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "net/cidr.h"
#include "net/conntrack_flusher.h"
#include "net/datapath/datapath.h"
#include "net/datapath/eni_link.h"
#include "net/datapath/nat_table.h"
#include "net/eni_links.h"
#include "net/ipam/ipam.h"
#include "net/ipam/local_provider.h"

namespace vpcri::net {

struct PodNetworkConfig {
  // Local provider (no provider given to PodNetworks): the node's pod range (kubelet's pod CIDR
  // or a configured range), carved into virtual ENIs of ips_per_eni addresses (the first of each
  // is never given to a pod). Unused with a given (cloud) provider.
  Cidr node_range;
  // With a given (cloud) provider: the VPC's CIDRs, which pod IPs come from. They are the pods'
  // source range for SNAT and are always excluded from it (as node_range is for local).
  std::vector<Cidr> vpc_cidrs;
  int max_enis = 3;
  int ips_per_eni = 10;
  ipam::WarmTargets warm;
  int max_pods = 0;

  int mtu = kDefaultPodMtu;
  std::string host_veth_prefix = std::string(kDefaultHostVethPrefix);

  // Egress SNAT: destinations in these CIDRs (VPC and cluster CIDRs) keep the pod IP as source;
  // the node range is always added. external_snat = true: vpcri does no SNAT at all.
  std::vector<Cidr> snat_exclude;
  bool external_snat = false;
  // The node's primary interface and IP; empty/nullopt: detected at restore() from the route to
  // the outside world (the default route).
  std::string primary_interface;
  std::optional<IpAddress> primary_ip;

  // How long a newly attached ENI's interface may take to appear (aws provider; eni_link.h).
  std::chrono::milliseconds eni_link_wait{kEniLinkWaitTimeout};

  std::string state_dir;  // IPAM checkpoint <state_dir>/ipam.json; must exist
  std::chrono::seconds cooldown{30};
  // Pool manager intervals (tests shorten them); defaults as the AWS VPC CNI.
  std::chrono::seconds pool_check_interval{5};
};

struct AttachRequest {
  std::string sandbox_id;
  std::string pod_namespace;
  std::string pod_name;
  std::string netns_path;  // the pod's network namespace, e.g. /proc/<pause pid>/ns/net
  std::vector<PortMapping> port_mappings;
};

struct AttachResult {
  IpAddress ip;
  std::string host_veth;
};

// A sandbox that still exists when the daemon starts, with its host ports (from the CRI layer's state).
struct LiveSandbox {
  std::string sandbox_id;
  std::vector<PortMapping> port_mappings;
};

struct RestoreSummary {
  std::vector<std::string> kept;               // sandboxes whose IP (and host ports) were kept
  std::vector<std::string> released;           // sandboxes gone since: IPs cooling down, datapath removed
  std::vector<std::string> deleted_veths;      // host veths of no live sandbox, deleted
  std::vector<std::string> live_without_ip;    // live sandboxes IPAM knows nothing of
  std::vector<std::string> hostports_skipped;  // live sandboxes whose host ports conflicted
};

// What the CRI layer depends on; FakePodNetwork (fake_pod_network.h) implements it in memory.
class PodNetworkService {
 public:
  virtual ~PodNetworkService() = default;
  // Once at start, before serving, with every sandbox that still exists.
  virtual RestoreSummary restore(const std::vector<LiveSandbox>& live) = 0;
  // Throws Error(resource_exhausted) with the cause when the node has no free IP,
  // Error(already_exists) naming the holder when a host port is taken.
  virtual AttachResult attach(const AttachRequest& request) = 0;
  virtual void detach(const std::string& sandbox_id) = 0;
  virtual std::optional<AttachResult> lookup(const std::string& sandbox_id) const = 0;
  virtual bool ready() const = 0;
  virtual std::string not_ready_reason() const = 0;  // "" when ready
  virtual nlohmann::json status() const = 0;
  // The introspection API's views (docs/observability.md): every ENI with its IPs and the
  // sandbox holding each, and the pool's targets against what it holds. Empty without IPAM.
  virtual nlohmann::json enis_json() const { return nlohmann::json::array(); }
  virtual nlohmann::json ipam_json() const { return nlohmann::json::object(); }
  // Per sandbox id holding an IP: its routes and ip rules as the kernel has them now, and
  // `drift`, what attach() made that the kernel lacks or has otherwise. Empty without IPAM.
  virtual nlohmann::json pod_routing_json() const { return nlohmann::json::object(); }
};

// The node's primary interface and its IPv4 address: the source the kernel picks for traffic to
// the outside world (a connected UDP socket, nothing sent). Throws Error(failed_precondition) if
// the calling thread's netns has no route out.
struct PrimaryInterface {
  std::string name;
  IpAddress ip;
};
PrimaryInterface detect_primary_interface();

class PodNetworks : public PodNetworkService {
 public:
  // Throws Error(invalid_argument) for a bad config. Touches no kernel state. `provider`:
  // where IPs come from (e.g. the aws provider, net/aws/aws_stack.h); nullptr: the local
  // provider over config.node_range.
  explicit PodNetworks(PodNetworkConfig config, std::unique_ptr<ipam::Provider> provider = nullptr);
  ~PodNetworks() override;  // stops the pool manager; leaves pods' networking in place
  PodNetworks(const PodNetworks&) = delete;
  PodNetworks& operator=(const PodNetworks&) = delete;

  // Once, before serving: sysctls (ip_forward, rp_filter loose on the primary interface), the
  // IPAM checkpoint (keeping live sandboxes' IPs), host veths of dead sandboxes deleted with their
  // routes and rules, the nft table rewritten with the live sandboxes' host ports, conntrack of
  // released IPs flushed, then the pool manager started. Throws on a damaged checkpoint.
  RestoreSummary restore(const std::vector<LiveSandbox>& live) override;

  // Allocates an IP (never waits for the provider), wires the pod's veth in its netns, adds its
  // host ports. On any failure everything done is undone (the IP is released) and the error passed on.
  AttachResult attach(const AttachRequest& request) override;
  // Removes the host ports, the veth/routes/rules, releases the IP (cooldown); its conntrack
  // entries are flushed in the background (a reused IP again before its next pod uses it).
  // Idempotent; also completes a detach interrupted by a crash.
  void detach(const std::string& sandbox_id) override;
  std::optional<AttachResult> lookup(const std::string& sandbox_id) const override;

  bool ready() const override;
  std::string not_ready_reason() const override;
  nlohmann::json status() const override;
  nlohmann::json enis_json() const override;  // pod_network_views.cc
  nlohmann::json ipam_json() const override;
  nlohmann::json pod_routing_json() const override;

  // Startup helper: waits (real time) until the pool holds IPs.
  bool wait_ready(std::chrono::milliseconds timeout);
  SnatConfig snat() const;
  ipam::Ipam& ipam() { return *ipam_; }

 private:
  std::string veth_of(const ipam::Allocation& allocation) const;
  bool local_provider() const { return local_provider_; }
  void collect_metrics(metrics::Collection& out);  // vpcri_ipam_* at each scrape

  const bool local_provider_;  // no provider was given: LocalProvider over node_range
  const PodNetworkConfig config_;
  std::unique_ptr<ipam::Provider> provider_;
  // Before ipam_: IPAM's pool manager calls it until ipam_ is destroyed.
  std::unique_ptr<EniLinks> eni_links_;
  std::unique_ptr<ipam::Ipam> ipam_;
  std::unique_ptr<NatTable> nat_;  // made at restore(), once the primary interface is known
  // Made at restore(), in the node's network namespace; after ipam_, so it stops first.
  std::unique_ptr<ConntrackFlusher> conntrack_;
  PrimaryInterface primary_;
  // attach/detach of different sandboxes run concurrently (the CRI layer serialises calls per
  // sandbox); only restore() must finish before them.
  std::atomic<bool> restored_{false};
  metrics::Registry::CollectorHandle metrics_;  // last: unregistered before the rest goes
};

}  // namespace vpcri::net

#include "net/pod_network.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "common/error.h"
#include "common/failpoint.h"
#include "common/fd.h"
#include "common/log.h"
#include "net/datapath/connmark.h"
#include "net/datapath/conntrack.h"
#include "net/datapath/netlink.h"
#include "net/datapath/netns.h"
#include "net/datapath/sysctl.h"
#include "net/datapath/undo_stack.h"
#include "net/ipam/checkpoint.h"
#include "net/ipam/warm_targets.h"

namespace vpcri::net {

namespace {

using nlohmann::json;

std::string checkpoint_path(const PodNetworkConfig& config) { return config.state_dir + "/ipam.json"; }

ipam::LocalProviderConfig provider_config(const PodNetworkConfig& config) {
  ipam::LocalProviderConfig pc;
  pc.node_range = config.node_range;
  pc.max_enis = config.max_enis;
  pc.ips_per_eni = config.ips_per_eni;
  return pc;
}

ipam::IpamConfig ipam_config(const PodNetworkConfig& config, ipam::EniObserver* eni_observer) {
  ipam::IpamConfig ic;
  ic.pool.eni_observer = eni_observer;
  ic.checkpoint_path = checkpoint_path(config);
  ic.cooldown = config.cooldown;
  ic.pool.targets = config.warm;
  ic.pool.max_pods = config.max_pods;
  ic.pool.check_interval = config.pool_check_interval;
  return ic;
}

const PodNetworkConfig& validated(const PodNetworkConfig& config, bool local_provider) {
  if (local_provider && config.node_range.network.family != AF_INET) {
    throw Error(Errc::invalid_argument, "pod network: the node range must be an IPv4 CIDR");
  }
  if (!local_provider && config.vpc_cidrs.empty()) {
    throw Error(Errc::invalid_argument, "pod network: a cloud provider needs the VPC's CIDRs");
  }
  for (const auto& c : config.vpc_cidrs) {
    if (c.network.family != AF_INET) {
      throw Error(Errc::invalid_argument, "pod network: VPC CIDR " + c.to_string() + " is not IPv4");
    }
  }
  if (config.mtu < kMinPodMtu || config.mtu > kMaxPodMtu) {
    throw Error(Errc::invalid_argument, "pod network: MTU " + std::to_string(config.mtu) + " outside " +
                                            std::to_string(kMinPodMtu) + "-" + std::to_string(kMaxPodMtu));
  }
  if (config.state_dir.empty()) throw Error(Errc::invalid_argument, "pod network: no state directory");
  (void)host_veth_name("x", "y", config.host_veth_prefix);  // throws for a bad prefix
  for (const auto& c : config.snat_exclude) {
    if (c.network.family != AF_INET) {
      throw Error(Errc::invalid_argument, "pod network: SNAT exclusion " + c.to_string() + " is not IPv4");
    }
  }
  if (config.primary_ip && config.primary_ip->family != AF_INET) {
    throw Error(Errc::invalid_argument, "pod network: the primary IP must be IPv4");
  }
  return config;
}

IpAddress from_in_addr(const in_addr& a) {
  IpAddress ip;
  ip.family = AF_INET;
  std::memcpy(ip.bytes.data(), &a, 4);
  return ip;
}

struct IfAddrsDeleter {
  void operator()(ifaddrs* p) const { freeifaddrs(p); }
};

// (interface, IPv4 address) pairs of the calling thread's netns.
std::vector<std::pair<std::string, IpAddress>> ipv4_addresses() {
  ifaddrs* raw = nullptr;
  if (::getifaddrs(&raw) != 0) throw_errno("listing interface addresses");
  std::unique_ptr<ifaddrs, IfAddrsDeleter> list(raw);
  std::vector<std::pair<std::string, IpAddress>> out;
  for (ifaddrs* a = raw; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    out.emplace_back(a->ifa_name, from_in_addr(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr));
  }
  return out;
}

PrimaryInterface resolve_primary(const PodNetworkConfig& config) {
  if (!config.primary_interface.empty() && config.primary_ip) return {config.primary_interface, *config.primary_ip};
  PrimaryInterface p;
  if (config.primary_interface.empty() && !config.primary_ip) return detect_primary_interface();
  for (const auto& [name, ip] : ipv4_addresses()) {
    if (config.primary_ip && ip == *config.primary_ip) return {name, ip};
    if (!config.primary_ip && name == config.primary_interface) return {name, ip};
  }
  throw Error(Errc::failed_precondition,
              config.primary_ip ? "pod network: no interface holds the configured primary IP " +
                                      config.primary_ip->to_string()
                                : "pod network: the configured primary interface " + config.primary_interface +
                                      " has no IPv4 address");
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

json mapping_json(const PortMapping& m) {
  return {{"protocol", port_protocol_name(m.protocol)},
          {"host_ip", m.host_ip},
          {"host_port", m.host_port},
          {"container_port", m.container_port}};
}

}  // namespace

PrimaryInterface detect_primary_interface() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("detecting the primary interface: socket");
  sockaddr_in out{};
  out.sin_family = AF_INET;
  out.sin_port = htons(53);
  ::inet_pton(AF_INET, "8.8.8.8", &out.sin_addr);  // any outside address: nothing is sent
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&out), sizeof out) != 0) {
    int err = errno;
    throw Error(Errc::failed_precondition,
                std::string("detecting the primary interface: no route to the outside world (") + std::strerror(err) +
                    "); configure the primary interface and IP");
  }
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    throw_errno("detecting the primary interface: getsockname");
  }
  IpAddress ip = from_in_addr(local.sin_addr);
  for (const auto& [name, addr] : ipv4_addresses()) {
    if (addr == ip) return {name, ip};
  }
  throw Error(Errc::failed_precondition,
              "detecting the primary interface: no interface holds the source address " + ip.to_string());
}

PodNetworks::PodNetworks(PodNetworkConfig config, std::unique_ptr<ipam::Provider> provider)
    : local_provider_(provider == nullptr),
      config_(validated(config, local_provider_)),
      provider_(provider ? std::move(provider) : std::make_unique<ipam::LocalProvider>(provider_config(config_))),
      eni_links_(std::make_unique<EniLinks>(config_.mtu, config_.eni_link_wait)),
      ipam_(std::make_unique<ipam::Ipam>(*provider_, ipam_config(config_, eni_links_.get()))) {
  metrics_ = metrics::global().add_collector([this](metrics::Collection& out) { collect_metrics(out); });
}

PodNetworks::~PodNetworks() {
  metrics_.reset();  // before anything it reads goes
  ipam_->stop();
}

void PodNetworks::collect_metrics(metrics::Collection& out) {
  ipam::PoolStats s = ipam_->stats();
  auto gauge = [&](const char* name, const char* help, int value) { out.gauge(name, help, {}, value); };
  gauge("vpcri_ipam_enis", "ENIs the IPAM pool holds (the primary one included).", s.enis);
  gauge("vpcri_ipam_enis_max", "ENIs the node may have (0 until the pool manager has described the node).",
        s.max_enis);
  gauge("vpcri_ipam_ips", "Pod IPs in the pool (ENI primary IPs excluded).", s.total);
  gauge("vpcri_ipam_ips_assigned", "Pod IPs held by a pod sandbox.", s.assigned);
  gauge("vpcri_ipam_ips_cooling", "Released pod IPs not reusable yet (network.cooldown_seconds).", s.cooling);
  gauge("vpcri_ipam_ips_max", "Pod IPs the node may have: ENIs max x pod IPs per ENI.", s.max_enis * s.pod_ips_per_eni);
  gauge("vpcri_ipam_ready", "1 when the pool has addresses (NetworkReady), else 0.", ready() ? 1 : 0);
  gauge("vpcri_ipam_warm_shortfall_ips",
        "Free pod IPs the warm pool lacks against its targets (WARM_ENI/IP/MINIMUM_IP_TARGET); 0 when met.",
        ipam::warm_shortfall(config_.warm, s.total, s.assigned, s.pod_ips_per_eni, config_.max_pods));
  auto pool = ipam_->status();
  out.counter("vpcri_ipam_provider_calls_total", "Calls of the pool manager to the IPAM provider.", {},
              static_cast<double>(pool.provider_calls));
  out.counter("vpcri_ipam_provider_errors_total", "Failed calls of the pool manager to the IPAM provider.", {},
              static_cast<double>(pool.provider_errors));
}

std::string PodNetworks::veth_of(const ipam::Allocation& a) const {
  return host_veth_name(a.pod_namespace, a.pod_name, config_.host_veth_prefix);
}

SnatConfig PodNetworks::snat() const {
  if (!nat_) throw Error(Errc::failed_precondition, "pod network: not restored yet");
  return nat_->snat();
}

RestoreSummary PodNetworks::restore(const std::vector<LiveSandbox>& live) {
  if (restored_) throw Error(Errc::failed_precondition, "pod network: already restored");
  primary_ = resolve_primary(config_);
  enable_ipv4_forwarding();
  set_rp_filter_loose(primary_.name);

  // What the checkpoint held before the restore drops dead sandboxes: their IPs' rules and routes go too.
  auto before = ipam::checkpoint::load(checkpoint_path(config_));
  std::set<std::string> live_ids;
  for (const auto& s : live) live_ids.insert(s.sandbox_id);
  auto report = ipam_->restore(live_ids);

  RestoreSummary summary;
  summary.kept = report.kept;
  summary.released = report.released;
  summary.live_without_ip = report.live_without_allocation;
  if (before) {
    std::set<std::string> released(report.released.begin(), report.released.end());
    for (const auto& a : before->allocations) {
      if (!released.count(a.sandbox_id)) continue;
      try {
        teardown_pod_network(veth_of(a), a.ip);
      } catch (const std::exception& e) {
        log::warn("removing a dead sandbox's datapath failed", {{"sandbox", a.sandbox_id}, {"error", e.what()}});
      }
    }
  }
  std::set<std::string> live_veths;
  for (const auto& a : ipam_->datastore().allocations()) live_veths.insert(veth_of(a));
  {
    auto sk = nl::connect(NETLINK_ROUTE);
    for (const auto& name : list_host_veths(config_.host_veth_prefix)) {
      if (live_veths.count(name)) continue;
      try {
        if (nl::delete_link(sk.get(), name)) summary.deleted_veths.push_back(name);
      } catch (const std::exception& e) {
        log::warn("deleting a stale host veth failed", {{"veth", name}, {"error", e.what()}});
      }
    }
  }

  SnatConfig snat;
  snat.enabled = !config_.external_snat;
  snat.interface = primary_.name;
  snat.node_ip = primary_.ip;
  // Pods' addresses come from the node range (local) or the VPC (cloud); both stay unSNATed.
  snat.pod_cidrs = local_provider() ? std::vector<Cidr>{config_.node_range} : config_.vpc_cidrs;
  snat.excluded = config_.snat_exclude;
  snat.host_veth_prefix = config_.host_veth_prefix;
  for (const Cidr& own : snat.pod_cidrs) {
    if (std::find(snat.excluded.begin(), snat.excluded.end(), own) == snat.excluded.end()) snat.excluded.push_back(own);
  }
  auto nat = std::make_unique<NatTable>(snat);
  std::map<std::string, SandboxHostPorts> hostports;
  for (const auto& s : live) {
    auto a = ipam_->lookup(s.sandbox_id);
    if (!a || !has_host_port(s.port_mappings)) continue;
    hostports[s.sandbox_id] = SandboxHostPorts{a->ip, s.port_mappings, veth_of(*a)};
    try {
      set_route_localnet(veth_of(*a));  // a veth made by an older vpcrid has it off
    } catch (const std::exception& e) {
      log::warn("host ports of a live sandbox not reachable at 127.0.0.1", {{"sandbox", s.sandbox_id}, {"error", e.what()}});
    }
  }
  summary.hostports_skipped = nat->reconcile(hostports);
  nat_ = std::move(nat);
  apply_connmark_rule(snat.enabled);  // with the nft connmark chain: removed again under external_snat

  conntrack_ = std::make_unique<ConntrackFlusher>([this] { return ipam_->drain_flush_requests(); },
                                                  [](const std::vector<IpAddress>& ips) { return flush_conntrack(ips); });
  conntrack_->flush_now();
  ipam_->start();
  restored_ = true;
  log::info("pod network restored",
            {{"primary_interface", primary_.name}, {"primary_ip", primary_.ip.to_string()},
             {"kept", std::to_string(summary.kept.size())}, {"released", join(summary.released)},
             {"deleted_veths", join(summary.deleted_veths)}, {"external_snat", config_.external_snat ? "true" : "false"}});
  return summary;
}

AttachResult PodNetworks::attach(const AttachRequest& request) {
  if (!restored_) throw Error(Errc::unavailable, "pod network: not initialised yet");
  if (request.sandbox_id.empty() || request.pod_namespace.empty() || request.pod_name.empty()) {
    throw Error(Errc::invalid_argument, "pod network: sandbox id, pod namespace and pod name are required");
  }
  if (request.netns_path.empty()) throw Error(Errc::invalid_argument, "pod network: no network namespace path");
  const std::string& id = request.sandbox_id;
  std::string host_veth = host_veth_name(request.pod_namespace, request.pod_name, config_.host_veth_prefix);

  ipam::Allocation a = ipam_->allocate(id, request.pod_namespace, request.pod_name);
  UndoStack undo;
  undo.push("releasing " + a.ip.to_string(), [this, id] {
    ipam_->release(id);
    conntrack_->wake();
  });
  // A reused IP: the previous holder's conntrack entries (or ones made while it cooled down)
  // must not steer this pod.
  if (a.reused) conntrack_->flush_now();

  NetNs pod = NetNs::open(request.netns_path);
  PodNetwork spec;
  spec.host_veth = host_veth;
  spec.pod_netns_fd = pod.fd();
  spec.pod_ip = a.ip;
  spec.mtu = config_.mtu;
  // A secondary ENI's IP leaves through that ENI's table; the primary ENI and the local
  // provider's virtual ENIs (no MAC) use the main table.
  spec.eni_route_table = eni_links_->pod_route_table(a.eni_id);
  setup_pod_network(spec);
  undo.push("tearing down " + host_veth, [host_veth, ip = a.ip] { teardown_pod_network(host_veth, ip); });
  failpoint("network.veth_created");  // veth and routes exist; no host ports, no pod record with the IP

  // Host ports answer at 127.0.0.1 too (see nat_table.h).
  if (has_host_port(request.port_mappings)) set_route_localnet(host_veth);
  nat_->add_sandbox(id, SandboxHostPorts{a.ip, request.port_mappings, host_veth});
  undo.commit();
  log::info("pod attached", {{"sandbox", id}, {"pod", request.pod_namespace + "/" + request.pod_name},
                             {"ip", a.ip.to_string()}, {"host_veth", host_veth}});
  return AttachResult{a.ip, host_veth};
}

void PodNetworks::detach(const std::string& sandbox_id) {
  if (!restored_) throw Error(Errc::unavailable, "pod network: not initialised yet");
  nat_->remove_sandbox(sandbox_id);
  if (auto a = ipam_->lookup(sandbox_id)) {
    teardown_pod_network(veth_of(*a), a->ip);
    failpoint("network.datapath_removed");  // the IP is still allocated
    ipam_->release(sandbox_id);
    log::info("pod detached", {{"sandbox", sandbox_id}, {"ip", a->ip.to_string()}});
  }
  conntrack_->wake();
}

std::optional<AttachResult> PodNetworks::lookup(const std::string& sandbox_id) const {
  auto a = ipam_->lookup(sandbox_id);
  if (!a) return std::nullopt;
  return AttachResult{a->ip, veth_of(*a)};
}

bool PodNetworks::ready() const { return restored_ && ipam_->ready(); }

std::string PodNetworks::not_ready_reason() const {
  if (!restored_) return "pod network not initialised yet (restoring IPAM and datapath state)";
  if (ipam_->ready()) return "";
  std::string message = ipam_->status().message;
  return "IPAM pool has no addresses yet" + (message.empty() ? std::string() : ": " + message);
}

bool PodNetworks::wait_ready(std::chrono::milliseconds timeout) { return ipam_->pool().wait_ready(timeout); }

json PodNetworks::status() const {
  json out;
  out["ready"] = ready();
  out["reason"] = not_ready_reason();
  out["provider"] = provider_->name();
  if (local_provider()) {
    out["node_range"] = config_.node_range.to_string();
  } else {
    json vpc = json::array();
    for (const auto& c : config_.vpc_cidrs) vpc.push_back(c.to_string());
    out["vpc_cidrs"] = vpc;
  }
  out["mtu"] = config_.mtu;
  if (restored_) {
    out["primary_interface"] = primary_.name;
    out["primary_ip"] = primary_.ip.to_string();
    SnatConfig snat = nat_->snat();
    json excluded = json::array();
    for (const auto& c : snat.excluded) excluded.push_back(c.to_string());
    out["snat"] = {{"enabled", snat.enabled}, {"to", snat.node_ip.to_string()}, {"excluded", excluded}};
    json hostports = json::object();
    for (const auto& [id, ports] : nat_->sandboxes()) {
      json list = json::array();
      for (const auto& m : ports.mappings) list.push_back(mapping_json(m));
      hostports[id] = {{"pod_ip", ports.pod_ip.to_string()}, {"mappings", list}};
    }
    out["hostports"] = hostports;
  }
  out["eni_links"] = eni_links_->wired();  // secondary ENIs whose interface, table and rule are set up
  auto stats = ipam_->stats();
  out["pool"] = {{"enis", stats.enis}, {"total", stats.total}, {"assigned", stats.assigned},
                 {"cooling", stats.cooling}, {"free", stats.free()}};
  auto pool = ipam_->status();
  out["pool_manager"] = {{"message", pool.message}, {"provider_calls", pool.provider_calls},
                         {"provider_errors", pool.provider_errors}};
  return out;
}

}  // namespace vpcri::net

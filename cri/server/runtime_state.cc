#include "cri/server/runtime_state.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/log.h"
#include "cri/server/aws_network_config.h"
#include "net/aws/aws_stack.h"

namespace vpcri::cri {
namespace {

runtime::image::ManagerConfig image_manager_config(const Config& config, const HostOverrides& overrides) {
  runtime::image::ManagerConfig out;
  out.root = config.root + "/images";
  auto slash = config.images.platform.find('/');
  out.platform_os = config.images.platform.substr(0, slash);
  out.platform_arch = config.images.platform.substr(slash + 1);
  out.max_layer_bytes = static_cast<uint64_t>(config.images.max_layer_gib) << 30;
  out.max_image_bytes = static_cast<uint64_t>(config.images.max_image_gib) << 30;
  for (const auto& [host, h] : config.registries) {
    auto& host_config = out.registry.hosts[host];
    host_config.mirrors = h.mirrors;
    host_config.insecure_http = h.insecure_http;
    host_config.skip_host = h.skip_host;
  }
  if (overrides.registry_max_attempts) out.registry.max_attempts = *overrides.registry_max_attempts;
  return out;
}

net::PodNetworkConfig pod_network_config(const Config& config, const std::vector<net::Cidr>& pod_cidrs) {
  const NetworkConfig& n = config.network;
  net::PodNetworkConfig c;
  std::string why;
  if (n.provider == "aws") {
    // Addresses come from the VPC: kubelet's pod CIDR does not apply.
  } else if (!n.node_range.empty()) {
    auto range = net::Cidr::parse(n.node_range, &why);
    if (!range) throw Error(Errc::invalid_argument, "network.node_range " + n.node_range + ": " + why);
    c.node_range = *range;
  } else {
    const net::Cidr* v4 = nullptr;
    for (const auto& cidr : pod_cidrs) {
      if (cidr.network.family == AF_INET) v4 = &cidr;
    }
    if (!v4) {
      throw Error(Errc::failed_precondition,
                  "no pod IP range yet: network.node_range is not set and kubelet has not sent a pod CIDR "
                  "(UpdateRuntimeConfig)");
    }
    c.node_range = *v4;
  }
  c.max_enis = n.max_enis;
  c.ips_per_eni = n.ips_per_eni;
  c.max_pods = n.max_pods;
  c.warm.warm_eni_target = n.warm_eni_target;
  c.warm.warm_ip_target = n.warm_ip_target;
  c.warm.minimum_ip_target = n.minimum_ip_target;
  c.mtu = n.mtu;
  c.host_veth_prefix = n.host_veth_prefix;
  for (const auto& text : n.snat_exclude) {
    auto cidr = net::Cidr::parse(text, &why);
    if (!cidr) throw Error(Errc::invalid_argument, "network.snat_exclude " + text + ": " + why);
    c.snat_exclude.push_back(*cidr);
  }
  c.external_snat = n.external_snat;
  c.primary_interface = n.primary_interface;
  if (!n.primary_ip.empty()) {
    auto ip = net::IpAddress::parse(n.primary_ip);
    if (!ip) throw Error(Errc::invalid_argument, "network.primary_ip " + n.primary_ip + " is not an IP address");
    c.primary_ip = *ip;
  }
  c.state_dir = config.root + "/network";
  c.cooldown = std::chrono::seconds(n.cooldown_seconds);
  c.pool_check_interval = std::chrono::seconds(1);
  return c;
}

// A helper left at its default path but not installed there: a vpcrid run from the build tree
// uses the one built beside it (build_relative is relative to the build root).
std::string installed_or_built(const std::string& configured, const std::string& default_path,
                               const std::string& build_relative) {
  if (configured != default_path || fs::exists(configured)) return configured;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return configured;
  const std::string built = (exe.parent_path().parent_path() / build_relative).string();
  return fs::exists(built) ? built : configured;
}

}  // namespace

std::vector<net::PortMapping> port_mappings(const ::runtime::v1::PodSandboxConfig& config) {
  std::vector<net::PortMapping> out;
  for (const auto& m : config.port_mappings()) {
    if (m.host_port() <= 0) continue;  // no host port: nothing to map
    if (m.host_port() > 65535 || m.container_port() <= 0 || m.container_port() > 65535) {
      throw Error(Errc::invalid_argument, "port mapping " + std::to_string(m.host_port()) + " -> " +
                                              std::to_string(m.container_port()) + ": ports must be 1-65535");
    }
    net::PortMapping p;
    switch (m.protocol()) {
      case ::runtime::v1::UDP: p.protocol = net::PortProtocol::udp; break;
      case ::runtime::v1::SCTP: p.protocol = net::PortProtocol::sctp; break;
      default: p.protocol = net::PortProtocol::tcp; break;
    }
    p.container_port = static_cast<uint16_t>(m.container_port());
    p.host_port = static_cast<uint16_t>(m.host_port());
    p.host_ip = m.host_ip();
    out.push_back(p);
  }
  return out;
}

bool is_host_network(const ::runtime::v1::PodSandboxConfig& config) {
  return config.linux().security_context().namespace_options().network() == ::runtime::v1::NODE;
}

RuntimeState::RuntimeState(Config config, const HostOverrides& overrides)
    : config_(std::move(config)),
      cgroup_mode_(overrides.cgroup_root ? overrides.cgroup_root->mode : runtime::detect_cgroup_mode()),
      cgroup_root_(overrides.cgroup_root ? *overrides.cgroup_root : runtime::cgroup::discover_cgroup_root()),
      cgroups_(config_.cgroup_driver == CgroupDriver::systemd ? runtime::cgroup::make_systemd_manager(cgroup_mode_)
                                                               : runtime::cgroup::make_cgroupfs_manager()),
      images_(std::make_unique<runtime::image::ImageManager>(image_manager_config(config_, overrides))),
      store_(config_.root, config_.state) {
  // systemd enables the controllers its units use; vpcri writing cgroup.subtree_control in
  // systemd's tree would fight it.
  if (config_.cgroup_driver == CgroupDriver::systemd) cgroup_root_.v2_controllers.clear();
  config_.runtime.monitor_path = installed_or_built(config_.runtime.monitor_path, RuntimeConfig{}.monitor_path,
                                                    "runtime/monitor/vpcri-monitor");
  config_.runtime.init_path =
      installed_or_built(config_.runtime.init_path, RuntimeConfig{}.init_path, "runtime/container/vpcri-init");
  // Once, before any container runs (CVE-2019-5736: vpcri-init never runs through a writable mount). A
  // failure is kept for Status and for every start, not fatal: vpcrid still answers.
  try {
    init_ = runtime::container::ReadOnlyBinary::open(config_.runtime.init_path);
  } catch (const Error& e) {
    init_problem_ = std::string("vpcri-init cannot be prepared: ") + e.what();
    log::error("cannot prepare vpcri-init", {{"path", config_.runtime.init_path}, {"error", e.what()}});
  }
  config_.runtime.pause_path = installed_or_built(config_.runtime.pause_path, RuntimeConfig{}.pause_path, "pause/pause");
  // The same for pause: a container sharing its PID namespace reaches it through /proc/1/exe.
  try {
    pause_ = runtime::container::ReadOnlyBinary::open(config_.runtime.pause_path);
  } catch (const Error& e) {
    pause_problem_ = std::string("pause cannot be prepared: ") + e.what();
    log::error("cannot prepare pause", {{"path", config_.runtime.pause_path}, {"error", e.what()}});
  }
  config_.images.sandbox_image_archive = installed_or_built(
      config_.images.sandbox_image_archive, ImagesConfig{}.sandbox_image_archive, "pause/pause-image.tar");
  const std::string path = pod_cidr_path();
  if (!fs::exists(path)) return;
  // A damaged file must not keep the daemon from starting: kubelet can send the CIDRs again.
  try {
    auto j = nlohmann::json::parse(fs::read_file(path));
    for (const auto& text : j.at("pod_cidrs")) {
      std::string why;
      auto cidr = net::Cidr::parse(text.get<std::string>(), &why);
      if (!cidr) throw std::runtime_error(text.get<std::string>() + ": " + why);
      pod_cidrs_.push_back(*cidr);
    }
  } catch (const std::exception& e) {
    pod_cidrs_.clear();
    log::warn("ignoring unreadable pod CIDR file", {{"path", path}, {"error", e.what()}});
  }
}

RuntimeState::~RuntimeState() = default;

runtime::container::Binaries RuntimeState::binaries() const {
  if (!init_) throw Error(Errc::failed_precondition, init_problem_);
  return {config_.runtime.monitor_path, config_.runtime.init_path, init_->fd()};
}

int RuntimeState::pause_fd() const {
  if (!pause_) throw Error(Errc::failed_precondition, pause_problem_);
  return pause_->fd();
}

std::shared_ptr<net::PodNetworkService> RuntimeState::network() const {
  std::lock_guard lock(mu_);
  return network_;
}

std::string RuntimeState::network_problem() const {
  std::shared_ptr<net::PodNetworkService> network;
  {
    std::lock_guard lock(mu_);
    if (!network_) return network_problem_.empty() ? "pod network not started yet" : network_problem_;
    network = network_;
  }
  return network->not_ready_reason();
}

void RuntimeState::set_network(std::shared_ptr<net::PodNetworkService> network) {
  std::lock_guard lock(mu_);
  network_ = std::move(network);
  network_problem_.clear();
}

bool RuntimeState::start_network() {
  std::lock_guard start_lock(network_start_mu_);
  if (network()) return true;
  if (pod_networking_off()) {
    std::lock_guard lock(mu_);
    network_problem_ = "pod networking is off (network.provider: none): pods get a network namespace with only loopback";
    return false;
  }
  try {
    net::PodNetworkConfig net_config = pod_network_config(config_, pod_cidrs());
    fs::mkdir_p(net_config.state_dir, 0700);
    std::unique_ptr<net::ipam::Provider> provider;  // null: local
    if (config_.network.provider == "aws") {
      net::aws::AwsStack stack = net::aws::make_aws_stack(aws_client_config(config_.network.aws),
                                                          aws_provider_options(config_.network.aws));
      net_config.vpc_cidrs = stack.vpc_cidrs;
      provider = std::move(stack.provider);
      log::info("aws provider ready", {{"region", stack.region}, {"vpc_cidrs", std::to_string(stack.vpc_cidrs.size())}});
    }
    auto network = std::make_shared<net::PodNetworks>(net_config, std::move(provider));
    std::vector<net::LiveSandbox> live;
    for (const auto& pod : store_.sandboxes.all()) {
      const SandboxRecord r = pod->get();
      if (r.ip.empty() || is_host_network(r.config)) continue;
      live.push_back({r.id, port_mappings(r.config)});
    }
    const net::RestoreSummary summary = network->restore(live);
    for (const auto& id : summary.live_without_ip) {
      log::warn("pod sandbox lost its IP while vpcrid was down", {{"id", id}});
    }
    for (const auto& id : summary.hostports_skipped) {
      log::warn("pod sandbox's host ports conflict; not restored", {{"id", id}});
    }
    // The local provider fills the pool at once; pods asked for right after start find IPs.
    if (!network->wait_ready(std::chrono::seconds(5))) log::warn("pod IP pool still empty after 5s");
    log::info("pod network started", {{"provider", config_.network.provider},
                                      {"node_range", net_config.node_range.to_string()},
                                      {"kept", std::to_string(summary.kept.size())},
                                      {"released", std::to_string(summary.released.size())},
                                      {"deleted_veths", std::to_string(summary.deleted_veths.size())}});
    std::lock_guard lock(mu_);
    network_ = std::move(network);
    network_problem_.clear();
    return true;
  } catch (const std::exception& e) {
    log::error("pod network cannot start", {{"error", e.what()}});
    std::lock_guard lock(mu_);
    network_problem_ = std::string("pod network cannot start: ") + e.what();
    return false;
  }
}

void RuntimeState::preload_images() {
  std::vector<std::string> archives;
  const std::string& sandbox_archive = config_.images.sandbox_image_archive;
  if (fs::exists(sandbox_archive)) {
    archives.push_back(sandbox_archive);
  } else if (!images_->find(config_.images.sandbox_image)) {
    log::warn("sandbox image archive not found", {{"path", config_.images.sandbox_image_archive},
                                                  {"sandbox_image", config_.images.sandbox_image}});
  }
  archives.insert(archives.end(), config_.images.preload.begin(), config_.images.preload.end());
  for (const auto& archive : archives) {
    try {
      for (const auto& image : images_->import_archive(archive)) {
        std::string tags;
        for (const auto& t : image.repo_tags) tags += (tags.empty() ? "" : ",") + t;
        log::info("imported image archive", {{"archive", archive}, {"id", image.id}, {"tags", tags}});
      }
    } catch (const std::exception& e) {
      log::error("cannot import image archive", {{"archive", archive}, {"error", e.what()}});
    }
  }
}

std::string RuntimeState::pinned_image_id() const {
  auto sandbox = images_->find(config_.images.sandbox_image);
  return sandbox ? sandbox->id : std::string();
}

std::string RuntimeState::sandbox_image_problem() const {
  if (images_->find(config_.images.sandbox_image)) return {};
  return "sandbox image " + config_.images.sandbox_image + " is not present (import it, or set images.sandbox_image)";
}

std::string RuntimeState::pod_cidr_path() const { return config_.root + "/pod-cidrs.json"; }

std::vector<net::Cidr> RuntimeState::pod_cidrs() const {
  std::lock_guard lock(mu_);
  return pod_cidrs_;
}

void RuntimeState::set_pod_cidrs(const std::vector<net::Cidr>& cidrs) {
  std::lock_guard lock(mu_);
  if (pod_cidrs_ == cidrs) return;
  nlohmann::json list = nlohmann::json::array();
  std::string joined;
  for (const auto& c : cidrs) {
    list.push_back(c.to_string());
    joined += (joined.empty() ? "" : ",") + c.to_string();
  }
  fs::write_file_atomic(pod_cidr_path(), nlohmann::json{{"pod_cidrs", list}}.dump() + "\n", 0600);
  pod_cidrs_ = cidrs;
  log::info("pod CIDRs updated", {{"pod_cidrs", joined}});
}

void RuntimeState::start_streaming() {
  const StreamingConfig& c = config_.streaming;
  stream_tokens_ = std::make_unique<streaming::TokenCache>(std::chrono::seconds(c.token_ttl_seconds),
                                                           static_cast<size_t>(c.max_tokens));
  streaming::ServerConfig sc;
  sc.address = c.address;
  sc.port = static_cast<uint16_t>(c.port);
  sc.max_sessions = static_cast<size_t>(c.max_sessions);
  sc.idle_timeout = std::chrono::seconds(c.idle_timeout_seconds);
  sc.stream_creation_timeout = std::chrono::seconds(c.stream_creation_timeout_seconds);
  sc.tls_cert_file = c.tls_cert_file;
  sc.tls_key_file = c.tls_key_file;
  streaming_ = std::make_unique<streaming::Server>(sc, *stream_tokens_);
  log::info("streaming server listening", {{"url", streaming_->base_url()}});
}

std::string RuntimeState::streaming_url(std::shared_ptr<const streaming::Request> request) {
  if (!streaming_) throw Error(Errc::unavailable, "the streaming server is not running yet (vpcrid is starting); retry");
  streaming::Kind kind = request->kind;
  return streaming_->url(kind, stream_tokens_->insert(std::move(request)));
}

}  // namespace vpcri::cri

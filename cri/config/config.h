// vpcrid's configuration: embedded defaults, overridden by /etc/vpcri/config.yaml, overridden by
// command-line flags. Every key is documented in docs/config.md.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "build_info.h"

#include "common/error.h"
#include "common/log.h"

namespace vpcri::cri {

enum class CgroupDriver { cgroupfs, systemd };

// How to reach one registry host (as named in image references, e.g. "docker.io").
struct RegistryHostConfig {
  std::vector<std::string> mirrors;  // "http://host:port" or "https://host", tried in order first
  bool insecure_http = false;        // talk plain HTTP to the host itself
  bool skip_host = false;            // never contact the host itself, only its mirrors
  bool operator==(const RegistryHostConfig&) const = default;
};

struct ImagesConfig {
  std::string platform = "linux/amd64";  // picked from multi-platform images
  std::vector<std::string> preload;      // image archives (OCI layout or docker save tars) imported at start
  // The runtime's sandbox image (pinned, reported; Status needs it): built from pause/ and
  // imported at start, so it is there on a node that reaches no registry. Pods run
  // runtime.pause_path, not this image's content.
  std::string sandbox_image = "localhost/vpcri/pause:" VPCRI_VERSION;
  std::string sandbox_image_archive = VPCRI_PAUSE_IMAGE_ARCHIVE;
  // Caps on what layers decompress to (a compression bomb must not fill the node's disk); 0: none.
  int max_layer_gib = 16;  // one layer
  int max_image_gib = 64;  // the layers one pull or import unpacks, together
};

// The helper binaries vpcrid starts for every container and pod.
struct RuntimeConfig {
  std::string monitor_path = VPCRI_MONITOR_PATH;  // vpcri-monitor
  std::string init_path = VPCRI_INIT_PATH;        // vpcri-init
  std::string pause_path = VPCRI_PAUSE_PATH;      // pause, every pod's first process
  // ExecSync calls running at once (each holds a gRPC thread and up to 32 MiB of output); more
  // are refused with RESOURCE_EXHAUSTED.
  int max_concurrent_exec_sync = 64;
};

// The aws provider (docs/config.md, "network.aws"). Empty strings and lists mean "from the
// instance": the region from metadata, the primary ENI's subnet and security groups.
struct AwsNetworkConfig {
  std::string region;
  std::string ec2_endpoint;  // "": https://ec2.<region>.amazonaws.com
  std::string sts_endpoint;  // "": https://sts.<region>.amazonaws.com
  std::string imds_endpoint = "http://169.254.169.254";
  std::string ca_file;  // "": the system's CA bundle
  std::vector<std::string> subnets;          // for new ENIs, subnet-...
  std::vector<std::string> security_groups;  // for new ENIs, sg-...
  std::string cluster_name;                  // tag cluster.k8s.amazonaws.com/name on new ENIs
  bool prefix_delegation = false;            // /28 prefixes instead of single IPs (nitro types)
  double ec2_requests_per_second = 5;        // client-side token bucket for all EC2 calls
  int ec2_burst = 20;
  int leaked_eni_grace_seconds = 300;  // this node's detached ENIs older than this are deleted
  bool operator==(const AwsNetworkConfig&) const = default;
};

// Pod networking (docs/config.md, "network"). Values are checked here; net::PodNetworks checks
// the rest when the daemon builds it.
struct NetworkConfig {
  // "local": the node range carved into virtual ENIs; "aws": ENIs and secondary IPs from EC2
  // (network.aws); "none": no pod networking (pods get a network namespace with only loopback;
  // NetworkReady stays false).
  std::string provider = "local";
  // Local provider: IPv4 CIDR pods get their IPs from. "": kubelet's pod CIDR
  // (UpdateRuntimeConfig); until it arrives NetworkReady is false. Not used by aws.
  std::string node_range;
  int mtu = 9001;
  int max_enis = 3;
  int ips_per_eni = 10;
  int max_pods = 0;  // 0: no cap
  int warm_eni_target = 1;
  int warm_ip_target = 0;     // 0: unset
  int minimum_ip_target = 0;  // 0: unset
  int cooldown_seconds = 30;  // a released IP is not reused for this long
  bool external_snat = false;
  std::vector<std::string> snat_exclude;  // IPv4 CIDRs (VPC, cluster) reached with the pod IP as source
  std::string primary_interface;          // "": detected from the route to the outside world
  std::string primary_ip;                 // "": that interface's address
  std::string host_veth_prefix = "eni";
  AwsNetworkConfig aws;
  bool operator==(const NetworkConfig&) const = default;
};

// The streaming server behind Exec/Attach/PortForward URLs (docs/streaming.md).
struct StreamingConfig {
  std::string address = "127.0.0.1";  // IP the server listens on and puts into the URLs
  int port = 0;                       // 0: a free port, chosen at start
  int max_sessions = 64;              // connections served at once; more get 503
  int idle_timeout_seconds = 4 * 3600;
  int stream_creation_timeout_seconds = 30;
  int token_ttl_seconds = 60;  // how long a returned URL stays usable (once)
  int max_tokens = 1000;       // URLs handed out and not used yet; more: RESOURCE_EXHAUSTED
  std::string tls_cert_file;   // both or neither: TLS (https:// URLs) with this PEM chain and key
  std::string tls_key_file;
  bool operator==(const StreamingConfig&) const = default;
};

// An HTTP endpoint of the daemon (docs/observability.md): "IP:PORT" ("[IPv6]:PORT"); "" turns it off.
struct EndpointConfig {
  std::string address;
  bool operator==(const EndpointConfig&) const = default;
};

struct Config {
  std::string root = "/var/lib/vpcri";          // persistent state: images, checkpoints
  std::string state = "/run/vpcri";             // runtime state: gone at reboot
  std::string socket = "/run/vpcri/vpcri.sock"; // CRI endpoint
  log::Level log_level = log::Level::info;
  CgroupDriver cgroup_driver = CgroupDriver::cgroupfs;
  ImagesConfig images;
  RuntimeConfig runtime;
  std::map<std::string, RegistryHostConfig> registries;
  NetworkConfig network;
  StreamingConfig streaming;
  EndpointConfig metrics{"127.0.0.1:61678"};        // Prometheus /metrics (aws-node's port)
  EndpointConfig introspection{"127.0.0.1:61679"};  // JSON /v1/enis, /v1/pods, /v1/ipam, /v1/config

  std::string source = "embedded defaults";  // where it came from, for Status and logs
};

// A config problem, located: "<file>:<line>:<column>: <key.path>: <what is wrong>".
class ConfigError : public Error {
 public:
  ConfigError(const std::string& file, int line, int column, const std::string& key_path,
              const std::string& problem);
};

// Parses YAML text. `file` is only used in error messages.
Config parse_config(std::string_view yaml, const std::string& file);

// Loads the config file. An explicitly named file must exist; the default one may be absent,
// in which case the embedded defaults are used.
Config load_config(const std::optional<std::string>& explicit_path, const std::string& default_path);

// "" when `address` is empty or IP:PORT (IPv6 in brackets); else what is wrong.
std::string check_listen_address(const std::string& address);

// Checks values that flags may also set (absolute paths, socket path length, ...).
void validate(const Config& config);

const char* cgroup_driver_name(CgroupDriver driver);

// JSON rendering, for Status verbose info and `vpcrid --check-config`.
std::string config_to_json(const Config& config);

}  // namespace vpcri::cri

// vpcrid: the vpcri daemon. Parses flags, loads the config and runs the CRI server.
#include <getopt.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include "build_info.h"
#include "common/log.h"
#include "cri/config/config.h"
#include "cri/daemon/server.h"
#include "cri/daemon/signals.h"

namespace {

constexpr const char* kUsage = R"(Usage: vpcrid [options]

vpcri's daemon: serves the Kubernetes CRI (runtime.v1) on a unix socket.

Options:
  --config PATH      config file (default: )" VPCRI_DEFAULT_CONFIG R"(; embedded defaults if absent)
  --root DIR         persistent state: images, checkpoints (default: /var/lib/vpcri)
  --state DIR        runtime state, gone at reboot (default: /run/vpcri)
  --socket PATH      CRI socket (default: /run/vpcri/vpcri.sock)
  --log-level LEVEL  debug, info, warn or error (default: info)
  --network-provider PROVIDER
                     local, aws or none (overrides network.provider; none: pods get only loopback)
  --metrics-address ADDR
                     IP:PORT of the Prometheus /metrics endpoint, "" for off
                     (overrides metrics.address; default 127.0.0.1:61678)
  --introspection-address ADDR
                     IP:PORT of the JSON introspection API, "" for off
                     (overrides introspection.address; default 127.0.0.1:61679)
  --check-config     validate the configuration, print it as JSON and exit
  --version          print the version and exit
  --help             print this help and exit

Flags override the config file. Exit codes: 0 ok, 1 failure, 2 usage error.
)";

struct Flags {
  std::optional<std::string> config, root, state, socket, log_level, network_provider, metrics_address,
      introspection_address;
  bool check_config = false;
};

// glibc gives each thread that contends for the heap an arena of its own, up to 8 per CPU, and
// keeps what they once held. gRPC's sync server runs a thread per concurrent call, so a burst of
// kubelet requests left vpcrid about 12 MB larger for good (bench: daemon RSS with 50 pods after
// the concurrency-32 run, 52.1 MB with glibc's default, 40.5 MB with two arenas; allocation is
// nowhere near the hot part of a pod start). Up to 4 arenas; MALLOC_ARENA_MAX or the glibc
// tunable, when the operator sets one, wins.
void limit_malloc_arenas() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_ARENA_MAX") || (tunables && std::strstr(tunables, "glibc.malloc.arena_max"))) return;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  ::mallopt(M_ARENA_MAX, static_cast<int>(std::clamp(cpus, 2L, 4L)));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vpcri;
  limit_malloc_arenas();
  enum { kConfig = 1000, kRoot, kState, kSocket, kLogLevel, kCheckConfig, kVersion, kHelp, kNetworkProvider,
        kMetricsAddress, kIntrospectionAddress };
  static const option options[] = {
      {"config", required_argument, nullptr, kConfig},     {"root", required_argument, nullptr, kRoot},
      {"state", required_argument, nullptr, kState},       {"socket", required_argument, nullptr, kSocket},
      {"log-level", required_argument, nullptr, kLogLevel}, {"check-config", no_argument, nullptr, kCheckConfig},
      {"version", no_argument, nullptr, kVersion},         {"help", no_argument, nullptr, kHelp},
      {"network-provider", required_argument, nullptr, kNetworkProvider},
      {"metrics-address", required_argument, nullptr, kMetricsAddress},
      {"introspection-address", required_argument, nullptr, kIntrospectionAddress},
      {nullptr, 0, nullptr, 0}};
  Flags flags;
  for (int opt; (opt = getopt_long(argc, argv, "", options, nullptr)) != -1;) {
    switch (opt) {
      case kConfig: flags.config = optarg; break;
      case kRoot: flags.root = optarg; break;
      case kState: flags.state = optarg; break;
      case kSocket: flags.socket = optarg; break;
      case kLogLevel: flags.log_level = optarg; break;
      case kNetworkProvider: flags.network_provider = optarg; break;
      case kMetricsAddress: flags.metrics_address = optarg; break;
      case kIntrospectionAddress: flags.introspection_address = optarg; break;
      case kCheckConfig: flags.check_config = true; break;
      case kVersion: std::cout << "vpcrid " VPCRI_VERSION "\n"; return 0;
      case kHelp: std::cout << kUsage; return 0;
      default: std::cerr << kUsage; return 2;
    }
  }
  if (optind < argc) {
    std::cerr << "vpcrid: unexpected argument \"" << argv[optind] << "\"\n" << kUsage;
    return 2;
  }

  cri::Config config;
  try {
    config = cri::load_config(flags.config, VPCRI_DEFAULT_CONFIG);
    if (flags.root) config.root = *flags.root;
    if (flags.state) config.state = *flags.state;
    if (flags.socket) config.socket = *flags.socket;
    if (flags.log_level) {
      auto level = log::parse_level(*flags.log_level);
      if (!level) throw Error(Errc::invalid_argument, "--log-level: expected one of debug, info, warn, error, got \"" +
                                                          *flags.log_level + "\"");
      config.log_level = *level;
    }
    if (flags.network_provider) {
      const std::string& p = *flags.network_provider;
      if (p != "local" && p != "aws" && p != "none") {
        throw Error(Errc::invalid_argument, "--network-provider: expected local, aws or none, got \"" + p + "\"");
      }
      if (p == "aws" && !config.network.node_range.empty()) {
        throw Error(Errc::invalid_argument, "--network-provider aws: network.node_range is set in " + config.source +
                                                " but not used with provider aws; remove it");
      }
      config.network.provider = *flags.network_provider;
    }
    if (flags.metrics_address) config.metrics.address = *flags.metrics_address;
    if (flags.introspection_address) config.introspection.address = *flags.introspection_address;
    cri::validate(config);
  } catch (const std::exception& e) {
    std::cerr << "vpcrid: invalid configuration: " << e.what() << "\n";
    return 1;
  }
  if (flags.check_config) {
    std::cout << cri::config_to_json(config) << "\n";
    return 0;
  }

  log::set_level(config.log_level);
  cri::block_stop_signals();
  try {
    return cri::run_daemon(config);
  } catch (const std::exception& e) {
    log::error("vpcrid failed", {{"error", e.what()}});
    return 1;
  }
}

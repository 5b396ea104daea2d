// vpcrictl: vpcri's own CRI client, in the spirit of crictl. Works against any CRI endpoint.
#include <fcntl.h>
#include <getopt.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>

#include "build_info.h"
#include "cri/ctl/commands.h"
#include "cri/ctl/flags.h"
#include "cri/ctl/max_pods.h"
#include "cri/streaming/tls.h"

namespace vpcri::ctl {
namespace {

constexpr const char* kDefaultEndpoint = "unix:///run/vpcri/vpcri.sock";

struct Command {
  const char* summary;
  std::function<int(Client&, const Options&, const std::vector<std::string>&)> run;
};

}  // namespace

int cmd_version(Client& client, const Options& opts, const Args&) {
  runtime::v1::VersionRequest req;
  req.set_version("v1");
  runtime::v1::VersionResponse resp;
  client.check(client.runtime().Version(client.context().get(), req, &resp), "Version");
  if (opts.format == Format::json) {
    std::cout << to_json(resp);
    return 0;
  }
  Table t({"Version:", resp.version()});
  t.add({"RuntimeName:", resp.runtime_name()});
  t.add({"RuntimeVersion:", resp.runtime_version()});
  t.add({"RuntimeApiVersion:", resp.runtime_api_version()});
  t.print(std::cout);
  return 0;
}

int cmd_info(Client& client, const Options& opts, const Args&) {
  runtime::v1::StatusRequest req;
  req.set_verbose(true);
  runtime::v1::StatusResponse resp;
  client.check(client.runtime().Status(client.context().get(), req, &resp), "Status");
  if (opts.format == Format::json) {
    // Like `crictl info`: the status, with each verbose info value parsed as JSON where it is JSON.
    std::cout << status_with_info(resp.status(), resp.info());
    return 0;
  }
  Table t({"CONDITION", "STATUS", "REASON", "MESSAGE"});
  for (const auto& c : resp.status().conditions()) {
    t.add({c.type(), c.status() ? "true" : "false", c.reason(), c.message()});
  }
  t.print(std::cout);
  return 0;
}

int cmd_runtime_config(Client& client, const Options& opts, const Args& args) {
  Format format = opts.format;
  Flags flags("runtime-config", "runtime-config", "Show the runtime's config as kubelet reads it (RuntimeConfig).");
  flags.add_output(&format);
  if (!flags.parse(args).empty()) flags.usage_error("takes no arguments");
  runtime::v1::RuntimeConfigRequest req;
  runtime::v1::RuntimeConfigResponse resp;
  client.check(client.runtime().RuntimeConfig(client.context().get(), req, &resp), "RuntimeConfig");
  if (format == Format::json) {
    std::cout << to_json(resp);
    return 0;
  }
  Table t({"CgroupDriver:", runtime::v1::CgroupDriver_Name(resp.linux().cgroup_driver())});
  t.print(std::cout);
  return 0;
}

int cmd_update_runtime_config(Client& client, const Options&, const Args& args) {
  std::string pod_cidr;
  Flags flags("update-runtime-config", "update-runtime-config --pod-cidr CIDR[,CIDR]",
              "Send the node's pod CIDR, as kubelet does (UpdateRuntimeConfig). With network.node_range\n"
              "unset, vpcri's local provider takes pod IPs from this range.");
  flags.add("--pod-cidr", "CIDR", "the node's pod CIDR; an IPv4 and an IPv6 one may be given, comma-separated",
            &pod_cidr);
  if (!flags.parse(args).empty()) flags.usage_error("takes no positional arguments");
  if (pod_cidr.empty()) flags.usage_error("missing --pod-cidr");
  runtime::v1::UpdateRuntimeConfigRequest req;
  req.mutable_runtime_config()->mutable_network_config()->set_pod_cidr(pod_cidr);
  runtime::v1::UpdateRuntimeConfigResponse resp;
  client.check(client.runtime().UpdateRuntimeConfig(client.context().get(), req, &resp), "UpdateRuntimeConfig");
  return 0;
}

namespace {

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"version", {"show the runtime's name and version", cmd_version}},
      {"info", {"show the runtime's conditions (-o json: also config and build info)", cmd_info}},
      {"runtime-config", {"show the runtime's config for kubelet (cgroup driver)", cmd_runtime_config}},
      {"update-runtime-config",
       {"send the node's pod CIDR as kubelet does: update-runtime-config --pod-cidr CIDR", cmd_update_runtime_config}},
      {"pull", {"pull an image, showing progress: pull [--creds USER:PASSWORD] IMAGE", cmd_pull}},
      {"images", {"list images: images [-q] [IMAGE]", cmd_images}},
      {"inspecti", {"show an image's status and config as JSON: inspecti IMAGE...", cmd_inspecti}},
      {"rmi", {"remove images with all their tags: rmi IMAGE...", cmd_rmi}},
      {"image", {"load an OCI layout or docker save tar: image import FILE", cmd_image}},
      {"imagefsinfo", {"show the image filesystem's usage as JSON", cmd_imagefsinfo}},
      {"runp", {"run a pod from a config file: runp [--runtime H] POD_CONFIG", cmd_runp}},
      {"stopp", {"stop pods: stopp POD_ID...", cmd_stopp}},
      {"rmp", {"remove pods: rmp [-f] POD_ID...", cmd_rmp}},
      {"pods", {"list pods: pods [--name RE] [--namespace RE] [--label K=V] [--state S] [-q] ...", cmd_pods}},
      {"inspectp", {"show pods' status as JSON: inspectp POD_ID...", cmd_inspectp}},
      {"statsp", {"show pods' resource usage: statsp [--id POD_ID] [--label K=V]", cmd_statsp}},
      {"create", {"create a container: create POD_ID CONTAINER_CONFIG POD_CONFIG", cmd_create}},
      {"run", {"run a pod and a container in it: run [--runtime H] CONTAINER_CONFIG POD_CONFIG", cmd_run}},
      {"start", {"start containers: start ID...", cmd_start}},
      {"stop", {"stop containers: stop [-t SECONDS] ID...", cmd_stop}},
      {"rm", {"remove containers: rm [-f] ID...", cmd_rm}},
      {"ps", {"list containers: ps [-a] [--pod POD_ID] [--name RE] [--label K=V] [--state S] [-q] ...", cmd_ps}},
      {"inspect", {"show containers' status as JSON: inspect ID...", cmd_inspect}},
      {"logs", {"print a container's logs: logs [-f] [--tail N] [-t] ID", cmd_logs}},
      {"exec", {"run a command in a container: exec [-i] [-t] [--websocket] [--timeout S] ID CMD [ARG...]", cmd_exec}},
      {"attach", {"attach to a container's main process: attach [-i] [-t] [--websocket] ID", cmd_attach}},
      {"port-forward", {"forward local ports to a pod: port-forward [--websocket] POD_ID [LOCAL:]REMOTE...", cmd_port_forward}},
      {"stats", {"show containers' resource usage: stats [-a] [--id ID] [--pod POD_ID] [--label K=V]", cmd_stats}},
      {"update", {"change containers' CPU and memory limits: update [options] ID...", cmd_update}},
      {"events", {"follow container lifecycle events: events [-o json]", cmd_events}},
      {"net", {"show pod networking from vpcrid's introspection API: net enis|pods|ipam", cmd_net}},
      {"max-pods",
       {"kubelet --max-pods for an EC2 type (aws provider): max-pods --instance-type T [--prefix-delegation]",
        [](Client&, const Options&, const Args& args) {
          max_pods_command(args, std::cout);
          return 0;
        }}},
  };
  return table;
}

void usage(std::ostream& out) {
  out << "Usage: vpcrictl [options] COMMAND [args]\n\n"
         "A CRI client for vpcri (and any runtime.v1 endpoint).\n\nCommands:\n";
  Table t({"  COMMAND", "DESCRIPTION"});
  for (const auto& [name, cmd] : commands()) t.add({"  " + name, cmd.summary});
  t.print(out);
  out << "\nOptions:\n"
         "  -r, --endpoint ENDPOINT  CRI endpoint (default: $VPCRI_ENDPOINT or "
      << kDefaultEndpoint
      << ")\n"
         "  -t, --timeout SECONDS    per-request timeout (default: 10)\n"
         "  -o, --output FORMAT      table or json (default: table)\n"
         "  -h, --help               show this help\n"
         "      --version            show vpcrictl's own version\n"
         "      --streaming-ca-file FILE  PEM CA that signed the streaming server's certificate, for\n"
         "                           https:// Exec/Attach/PortForward URLs (default: the system's CAs)\n"
         "      --streaming-insecure do not check the streaming server's certificate\n";
}

}  // namespace
}  // namespace vpcri::ctl

int main(int argc, char** argv) {
  using namespace vpcri::ctl;
  // A closed stdin, stdout or stderr would be taken by the next descriptor opened (a gRPC or
  // streaming socket): `exec -i` would then read its own connection as stdin. /dev/null in its place.
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF && ::open("/dev/null", O_RDWR) != fd) return 1;
  }
  Options opts;
  const char* env = std::getenv("VPCRI_ENDPOINT");
  opts.endpoint = env && *env ? env : kDefaultEndpoint;
  vpcri::streaming::tls::ClientOptions tls_options;  // for https:// streaming URLs
  static const option options[] = {{"endpoint", required_argument, nullptr, 'r'},
                                   {"timeout", required_argument, nullptr, 't'},
                                   {"output", required_argument, nullptr, 'o'},
                                   {"help", no_argument, nullptr, 'h'},
                                   {"version", no_argument, nullptr, 'V'},
                                   {"streaming-ca-file", required_argument, nullptr, 'C'},
                                   {"streaming-insecure", no_argument, nullptr, 'K'},
                                   {nullptr, 0, nullptr, 0}};
  // "+" stops at the first non-option, so each command parses its own flags.
  for (int opt; (opt = getopt_long(argc, argv, "+r:t:o:h", options, nullptr)) != -1;) {
    switch (opt) {
      case 'r': opts.endpoint = optarg; break;
      case 't': {
        char* end = nullptr;
        double secs = std::strtod(optarg, &end);
        if (*end || secs <= 0) {
          std::cerr << "vpcrictl: --timeout: expected a positive number of seconds, got \"" << optarg << "\"\n";
          return 2;
        }
        opts.timeout = std::chrono::milliseconds(static_cast<long>(secs * 1000));
        opts.timeout_set = true;
        break;
      }
      case 'o':
        if (std::string(optarg) == "json") {
          opts.format = Format::json;
        } else if (std::string(optarg) == "table") {
          opts.format = Format::table;
        } else {
          std::cerr << "vpcrictl: --output: expected table or json, got \"" << optarg << "\"\n";
          return 2;
        }
        break;
      case 'h': usage(std::cout); return 0;
      case 'V': std::cout << "vpcrictl " VPCRI_VERSION "\n"; return 0;
      case 'C': tls_options.ca_file = optarg; break;
      case 'K': tls_options.insecure = true; break;
      default: usage(std::cerr); return 2;
    }
  }
  if (optind >= argc) {
    usage(std::cerr);
    return 2;
  }
  std::string name = argv[optind];
  auto it = commands().find(name);
  if (it == commands().end()) {
    std::cerr << "vpcrictl: unknown command \"" << name << "\"; see vpcrictl --help\n";
    return 2;
  }
  std::vector<std::string> args(argv + optind + 1, argv + argc);
  block_signals_read_by(name);  // threads started later inherit the mask
  vpcri::streaming::tls::set_client_options(tls_options);
  try {
    Client client(opts.endpoint, opts.timeout);
    return it->second.run(client, opts, args);
  } catch (const HelpRequested& help) {
    std::cout << help.text;
    return 0;
  } catch (const std::invalid_argument& e) {
    std::cerr << "vpcrictl " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "vpcrictl " << name << ": " << e.what() << "\n";
    return 1;
  }
}

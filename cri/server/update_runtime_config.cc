#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::UpdateRuntimeConfig(grpc::ServerContext*, const v1::UpdateRuntimeConfigRequest* req,
                                                 v1::UpdateRuntimeConfigResponse*) {
  return handle_rpc("UpdateRuntimeConfig", [&] {
    const std::string& text = req->runtime_config().network_config().pod_cidr();
    if (text.empty()) return;  // kubelet sends an empty config before the node has a pod CIDR
    // Dual-stack nodes get "v4cidr,v6cidr".
    std::vector<net::Cidr> cidrs;
    size_t start = 0;
    while (start <= text.size()) {
      size_t comma = text.find(',', start);
      std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      std::string why;
      auto cidr = net::Cidr::parse(item, &why);
      if (!cidr) throw Error(Errc::invalid_argument, "pod_cidr \"" + item + "\" is not a valid CIDR: " + why);
      cidrs.push_back(*cidr);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (cidrs.size() > 2) throw Error(Errc::invalid_argument, "pod_cidr lists more than two CIDRs: " + text);
    state_.set_pod_cidrs(cidrs);
    // kubelet's flow: the node's pod CIDR arrives after start; networking may start now.
    if (!state_.network() && state_.config().network.node_range.empty() &&
        !state_.pod_networking_off()) {
      state_.start_network();
    }
  });
}

}  // namespace vpcri::cri

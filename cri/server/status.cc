#include <unistd.h>

#include <nlohmann/json.hpp>

#include "build_info.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {
namespace {

void add_condition(v1::RuntimeStatus* status, const char* type, bool ok, const std::string& reason,
                   const std::string& message) {
  auto* c = status->add_conditions();
  c->set_type(type);
  c->set_status(ok);
  if (!ok) {
    c->set_reason(reason);
    c->set_message(message);
  }
}

// The runtime is ready when the directories it keeps state in are usable.
std::string runtime_problem(const Config& config) {
  for (const std::string* dir : {&config.root, &config.state}) {
    if (::access(dir->c_str(), R_OK | W_OK | X_OK) != 0) return "state directory " + *dir + " is not writable";
  }
  return {};
}

}  // namespace

grpc::Status RuntimeService::Status(grpc::ServerContext*, const v1::StatusRequest* req, v1::StatusResponse* resp) {
  return handle_rpc("Status", [&] {
    auto* status = resp->mutable_status();
    std::string problem = runtime_problem(state_.config());
    if (problem.empty()) problem = state_.init_problem();
    if (problem.empty()) problem = state_.pause_problem();
    if (problem.empty()) problem = state_.sandbox_image_problem();
    add_condition(status, "RuntimeReady", problem.empty(), "RuntimeNotReady", problem);
    const std::string network_problem = state_.network_problem();
    add_condition(status, "NetworkReady", network_problem.empty(), "NetworkPluginNotReady",
                  "vpcri: " + network_problem);

    // One handler, the default; the features it lacks are reported as false, not guessed.
    auto* handler = resp->add_runtime_handlers();
    handler->set_name("");
    handler->mutable_features();
    resp->mutable_features();

    if (req->verbose()) {
      auto& info = *resp->mutable_info();
      info["config"] = config_to_json(state_.config());
      nlohmann::ordered_json build{{"version", VPCRI_VERSION},
                                   {"compiler", VPCRI_COMPILER},
                                   {"buildtype", VPCRI_BUILDTYPE},
                                   {"cgroup_mode", runtime::cgroup_mode_name(state_.cgroup_mode())}};
      info["build"] = build.dump();
      nlohmann::json cidrs = nlohmann::json::array();
      for (const auto& c : state_.pod_cidrs()) cidrs.push_back(c.to_string());
      nlohmann::json network{{"pod_cidrs", cidrs}, {"ready", network_problem.empty()}, {"reason", network_problem}};
      if (auto service = state_.network()) network["pod_network"] = service->status();
      info["network"] = network.dump();
    }
  });
}

}  // namespace vpcri::cri

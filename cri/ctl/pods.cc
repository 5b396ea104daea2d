// vpcrictl pod commands: runp, stopp, rmp, pods, inspectp, statsp.
#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>
#include <regex>
#include <stdexcept>
#include <thread>

#include "cri/ctl/commands.h"
#include "cri/ctl/config_file.h"
#include "cri/ctl/flags.h"

namespace vpcri::ctl {
namespace {

namespace v1 = runtime::v1;

constexpr std::chrono::minutes kLifecycleTimeout{4};

std::string pod_state(v1::PodSandboxState state) {
  return state == v1::SANDBOX_READY ? "Ready" : "NotReady";
}

}  // namespace

std::chrono::milliseconds lifecycle_timeout(const Options& opts) {
  return opts.timeout_set ? opts.timeout : std::chrono::duration_cast<std::chrono::milliseconds>(kLifecycleTimeout);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string run_pod(Client& client, const Options& opts, const std::string& config_file, const std::string& handler,
                    v1::PodSandboxConfig* config) {
  load_config(config_file, config);
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = *config;
  req.set_runtime_handler(handler);
  v1::RunPodSandboxResponse resp;
  client.check(client.runtime().RunPodSandbox(client.context(lifecycle_timeout(opts)).get(), req, &resp),
               "RunPodSandbox");
  return resp.pod_sandbox_id();
}

int cmd_runp(Client& client, const Options& opts, const Args& args) {
  std::string handler;
  Flags flags("runp", "runp [--runtime HANDLER] POD_CONFIG",
              "Run a pod sandbox from a PodSandboxConfig file (JSON or YAML, as for crictl) and print its id.");
  flags.add("-r, --runtime", "HANDLER", "runtime handler (default: the runtime's default)", &handler);
  auto files = flags.parse(args);
  if (files.size() != 1) flags.usage_error("expected one POD_CONFIG file");
  v1::PodSandboxConfig config;
  std::cout << run_pod(client, opts, files[0], handler, &config) << "\n";
  return 0;
}

int cmd_stopp(Client& client, const Options& opts, const Args& args) {
  Flags flags("stopp", "stopp POD_ID...", "Stop pod sandboxes: their containers are killed, their network torn down.");
  auto ids = flags.parse(args);
  if (ids.empty()) flags.usage_error("missing POD_ID");
  for (const auto& id : ids) {
    v1::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    v1::StopPodSandboxResponse resp;
    client.check(client.runtime().StopPodSandbox(client.context(lifecycle_timeout(opts)).get(), req, &resp),
                 "StopPodSandbox");
    std::cout << "Stopped sandbox " << id << "\n";
  }
  return 0;
}

int cmd_rmp(Client& client, const Options& opts, const Args& args) {
  bool force = false;
  Flags flags("rmp", "rmp [-f] POD_ID...", "Remove pod sandboxes and their containers.");
  flags.add("-f, --force", "stop a pod that is still ready first (otherwise that is an error)", &force);
  auto ids = flags.parse(args);
  if (ids.empty()) flags.usage_error("missing POD_ID");
  for (const auto& id : ids) {
    if (force) {
      v1::StopPodSandboxRequest req;
      req.set_pod_sandbox_id(id);
      v1::StopPodSandboxResponse resp;
      client.check(client.runtime().StopPodSandbox(client.context(lifecycle_timeout(opts)).get(), req, &resp),
                   "StopPodSandbox");
    } else {
      v1::PodSandboxStatusRequest req;
      req.set_pod_sandbox_id(id);
      v1::PodSandboxStatusResponse resp;
      client.check(client.runtime().PodSandboxStatus(client.context().get(), req, &resp), "PodSandboxStatus");
      if (resp.status().state() == v1::SANDBOX_READY) {
        throw std::runtime_error("pod sandbox " + id + " is ready: stop it first (stopp) or use rmp -f");
      }
    }
    v1::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    v1::RemovePodSandboxResponse resp;
    client.check(client.runtime().RemovePodSandbox(client.context(lifecycle_timeout(opts)).get(), req, &resp),
                 "RemovePodSandbox");
    std::cout << "Removed sandbox " << id << "\n";
  }
  return 0;
}

int cmd_pods(Client& client, const Options& opts, const Args& args) {
  Format format = opts.format;
  std::string id, state;
  std::regex name_re(""), ns_re("");
  std::map<std::string, std::string> labels;
  bool quiet = false, no_trunc = false;
  Flags flags("pods", "pods [options]", "List pod sandboxes, newest first.");
  flags.add("--id", "ID", "only the pod with this id or id prefix", &id);
  flags.add("--name", "REGEX", "only pods whose name matches", &name_re);
  flags.add("--namespace", "REGEX", "only pods whose namespace matches", &ns_re);
  flags.add_labels(&labels);
  flags.add("-s, --state", "STATE", "only pods in this state: ready or notready", &state);
  flags.add("-q, --quiet", "print only the (full) pod ids", &quiet);
  flags.add("--no-trunc", "print full pod ids", &no_trunc);
  flags.add_output(&format);
  if (!flags.parse(args).empty()) flags.usage_error("unexpected argument");

  v1::ListPodSandboxRequest req;
  auto* filter = req.mutable_filter();
  filter->set_id(id);
  filter->mutable_label_selector()->insert(labels.begin(), labels.end());
  std::transform(state.begin(), state.end(), state.begin(), [](unsigned char c) { return std::tolower(c); });
  if (state == "ready") {
    filter->mutable_state()->set_state(v1::SANDBOX_READY);
  } else if (state == "notready") {
    filter->mutable_state()->set_state(v1::SANDBOX_NOTREADY);
  } else if (!state.empty()) {
    flags.usage_error("--state: expected ready or notready, got \"" + state + "\"");
  }
  v1::ListPodSandboxResponse resp;
  client.check(client.runtime().ListPodSandbox(client.context().get(), req, &resp), "ListPodSandbox");

  v1::ListPodSandboxResponse shown;
  for (const auto& pod : resp.items()) {
    if (std::regex_search(pod.metadata().name(), name_re) && std::regex_search(pod.metadata().namespace_(), ns_re)) {
      *shown.add_items() = pod;
    }
  }
  std::stable_sort(shown.mutable_items()->begin(), shown.mutable_items()->end(),
                   [](const v1::PodSandbox& a, const v1::PodSandbox& b) { return a.created_at() > b.created_at(); });
  if (format == Format::json) {
    std::cout << to_json(shown);
    return 0;
  }
  if (quiet) {
    for (const auto& pod : shown.items()) std::cout << pod.id() << "\n";
    return 0;
  }
  const int64_t now = now_ns();
  Table t({"POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"});
  for (const auto& pod : shown.items()) {
    t.add({truncate_id(pod.id(), no_trunc), relative_time(pod.created_at(), now), pod_state(pod.state()),
           pod.metadata().name(), pod.metadata().namespace_(), std::to_string(pod.metadata().attempt()),
           pod.runtime_handler().empty() ? "(default)" : pod.runtime_handler()});
  }
  t.print(std::cout);
  return 0;
}

int cmd_inspectp(Client& client, const Options&, const Args& args) {
  Flags flags("inspectp", "inspectp POD_ID...",
              "Show pod sandboxes' status as JSON, with the runtime's verbose info (like crictl inspectp).");
  auto ids = flags.parse(args);
  if (ids.empty()) flags.usage_error("missing POD_ID");
  for (const auto& id : ids) {
    v1::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(id);
    req.set_verbose(true);
    v1::PodSandboxStatusResponse resp;
    client.check(client.runtime().PodSandboxStatus(client.context().get(), req, &resp), "PodSandboxStatus");
    std::cout << status_with_info(resp.status(), resp.info());
  }
  return 0;
}

int cmd_statsp(Client& client, const Options& opts, const Args& args) {
  Format format = opts.format;
  v1::ListPodSandboxStatsRequest req;
  std::map<std::string, std::string> labels;
  Flags flags("statsp", "statsp [--id POD_ID] [--label KEY=VALUE]...",
              "Show pod sandboxes' resource usage. CPU % is measured over one second, between two samples.");
  flags.add("--id", "POD_ID", "only the pod with this id or id prefix", req.mutable_filter()->mutable_id());
  flags.add_labels(&labels);
  flags.add_output(&format);
  if (!flags.parse(args).empty()) flags.usage_error("unexpected argument");
  req.mutable_filter()->mutable_label_selector()->insert(labels.begin(), labels.end());

  auto sample = [&] {
    v1::ListPodSandboxStatsResponse resp;
    client.check(client.runtime().ListPodSandboxStats(client.context().get(), req, &resp), "ListPodSandboxStats");
    return resp;
  };
  v1::ListPodSandboxStatsResponse before = sample();
  if (format == Format::json) {
    std::cout << to_json(before);
    return 0;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  v1::ListPodSandboxStatsResponse after = sample();
  std::map<std::string, v1::CpuUsage> cpu_before;
  for (const auto& s : before.stats()) cpu_before[s.attributes().id()] = s.linux().cpu();
  Table t({"POD", "POD ID", "CPU %", "MEM"});
  for (const auto& s : after.stats()) {
    auto old = cpu_before.find(s.attributes().id());
    if (old == cpu_before.end()) continue;  // a new pod: no first sample
    const auto& cpu = s.linux().cpu();
    t.add({s.attributes().metadata().name(), truncate_id(s.attributes().id(), false),
           cpu_percent(old->second.usage_core_nano_seconds().value(), old->second.timestamp(),
                       cpu.usage_core_nano_seconds().value(), cpu.timestamp()),
           human_size(s.linux().memory().working_set_bytes().value())});
  }
  t.print(std::cout);
  return 0;
}

}  // namespace vpcri::ctl

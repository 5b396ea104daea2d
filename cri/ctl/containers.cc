// vpcrictl container commands: create, run, start, stop, rm, ps, inspect, logs, exec, stats, update.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>
#include <regex>
#include <stdexcept>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "cri/ctl/commands.h"
#include "cri/ctl/config_file.h"
#include "cri/ctl/cri_log.h"
#include "cri/ctl/flags.h"

namespace vpcri::ctl {
namespace {

namespace v1 = runtime::v1;

std::string container_state(v1::ContainerState state) {
  switch (state) {
    case v1::CONTAINER_CREATED: return "Created";
    case v1::CONTAINER_RUNNING: return "Running";
    case v1::CONTAINER_EXITED: return "Exited";
    default: return "Unknown";
  }
}

std::string create_container(Client& client, const Options& opts, const std::string& pod_id,
                             const std::string& container_file, const v1::PodSandboxConfig& pod_config) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_id);
  load_config(container_file, req.mutable_config());
  *req.mutable_sandbox_config() = pod_config;
  v1::CreateContainerResponse resp;
  client.check(client.runtime().CreateContainer(client.context(lifecycle_timeout(opts)).get(), req, &resp),
               "CreateContainer");
  return resp.container_id();
}

void start_container(Client& client, const Options& opts, const std::string& id) {
  v1::StartContainerRequest req;
  req.set_container_id(id);
  v1::StartContainerResponse resp;
  client.check(client.runtime().StartContainer(client.context(lifecycle_timeout(opts)).get(), req, &resp),
               "StartContainer");
}

void stop_container(Client& client, const Options& opts, const std::string& id, int64_t timeout) {
  v1::StopContainerRequest req;
  req.set_container_id(id);
  req.set_timeout(timeout);
  v1::StopContainerResponse resp;
  auto deadline = lifecycle_timeout(opts) + std::chrono::seconds(timeout);
  client.check(client.runtime().StopContainer(client.context(deadline).get(), req, &resp), "StopContainer");
}

v1::ContainerStatusResponse container_status(Client& client, const std::string& id, bool verbose) {
  v1::ContainerStatusRequest req;
  req.set_container_id(id);
  req.set_verbose(verbose);
  v1::ContainerStatusResponse resp;
  client.check(client.runtime().ContainerStatus(client.context().get(), req, &resp), "ContainerStatus");
  return resp;
}

}  // namespace

int cmd_create(Client& client, const Options& opts, const Args& args) {
  Flags flags("create", "create POD_ID CONTAINER_CONFIG POD_CONFIG",
              "Create a container in a pod from a ContainerConfig file and the pod's PodSandboxConfig file\n"
              "(JSON or YAML, as for crictl) and print its id. The image must have been pulled.");
  auto pos = flags.parse(args);
  if (pos.size() != 3) flags.usage_error("expected POD_ID CONTAINER_CONFIG POD_CONFIG");
  v1::PodSandboxConfig pod_config;
  load_config(pos[2], &pod_config);
  std::cout << create_container(client, opts, pos[0], pos[1], pod_config) << "\n";
  return 0;
}

int cmd_run(Client& client, const Options& opts, const Args& args) {
  std::string handler;
  Flags flags("run", "run [--runtime HANDLER] CONTAINER_CONFIG POD_CONFIG",
              "Run a pod sandbox, create a container in it and start it (runp + create + start);\n"
              "print the container's id. The image must have been pulled.");
  flags.add("-r, --runtime", "HANDLER", "runtime handler for the pod (default: the runtime's default)", &handler);
  auto pos = flags.parse(args);
  if (pos.size() != 2) flags.usage_error("expected CONTAINER_CONFIG POD_CONFIG");
  v1::ContainerConfig check;
  load_config(pos[0], &check);  // a bad container file fails before a pod is made
  v1::PodSandboxConfig pod_config;
  std::string pod_id = run_pod(client, opts, pos[1], handler, &pod_config);
  std::string id = create_container(client, opts, pod_id, pos[0], pod_config);
  start_container(client, opts, id);
  std::cout << id << "\n";
  return 0;
}

int cmd_start(Client& client, const Options& opts, const Args& args) {
  Flags flags("start", "start CONTAINER_ID...", "Start created containers.");
  auto ids = flags.parse(args);
  if (ids.empty()) flags.usage_error("missing CONTAINER_ID");
  for (const auto& id : ids) {
    start_container(client, opts, id);
    std::cout << id << "\n";
  }
  return 0;
}

int cmd_stop(Client& client, const Options& opts, const Args& args) {
  int64_t timeout = 0;
  Flags flags("stop", "stop [-t SECONDS] CONTAINER_ID...",
              "Stop running containers: their stop signal, then SIGKILL after the grace period.");
  flags.add("-t, --timeout", "SECONDS", "grace period before SIGKILL (default: 0)", &timeout);
  auto ids = flags.parse(args);
  if (ids.empty()) flags.usage_error("missing CONTAINER_ID");
  if (timeout < 0) flags.usage_error("--timeout: must not be negative");
  for (const auto& id : ids) {
    stop_container(client, opts, id, timeout);
    std::cout << id << "\n";
  }
  return 0;
}

int cmd_rm(Client& client, const Options& opts, const Args& args) {
  bool force = false;
  Flags flags("rm", "rm [-f] CONTAINER_ID...", "Remove containers.");
  flags.add("-f, --force", "stop a running container first (otherwise that is an error)", &force);
  auto ids = flags.parse(args);
  if (ids.empty()) flags.usage_error("missing CONTAINER_ID");
  for (const auto& id : ids) {
    if (force) {
      stop_container(client, opts, id, 0);
    } else if (container_status(client, id, false).status().state() == v1::CONTAINER_RUNNING) {
      throw std::runtime_error("container " + id + " is running: stop it first or use rm -f");
    }
    v1::RemoveContainerRequest req;
    req.set_container_id(id);
    v1::RemoveContainerResponse resp;
    client.check(client.runtime().RemoveContainer(client.context(lifecycle_timeout(opts)).get(), req, &resp),
                 "RemoveContainer");
    std::cout << id << "\n";
  }
  return 0;
}

int cmd_ps(Client& client, const Options& opts, const Args& args) {
  Format format = opts.format;
  std::string id, pod, state;
  std::regex name_re("");
  std::map<std::string, std::string> labels;
  bool all = false, quiet = false, no_trunc = false;
  Flags flags("ps", "ps [options]", "List containers, newest first; only running ones unless -a or --state.");
  flags.add("-a, --all", "show containers in every state", &all);
  flags.add("--id", "ID", "only the container with this id or id prefix", &id);
  flags.add("-p, --pod", "POD_ID", "only containers of this pod", &pod);
  flags.add("--name", "REGEX", "only containers whose name matches", &name_re);
  flags.add_labels(&labels);
  flags.add("-s, --state", "STATE", "only containers in this state: created, running, exited or unknown", &state);
  flags.add("-q, --quiet", "print only the (full) container ids", &quiet);
  flags.add("--no-trunc", "print full ids and image ids", &no_trunc);
  flags.add_output(&format);
  if (!flags.parse(args).empty()) flags.usage_error("unexpected argument");
  v1::ListContainersRequest req;
  auto* filter = req.mutable_filter();
  filter->set_id(id);
  filter->set_pod_sandbox_id(pod);
  filter->mutable_label_selector()->insert(labels.begin(), labels.end());
  static const std::map<std::string, v1::ContainerState> states = {{"created", v1::CONTAINER_CREATED},
                                                                    {"running", v1::CONTAINER_RUNNING},
                                                                    {"exited", v1::CONTAINER_EXITED},
                                                                    {"unknown", v1::CONTAINER_UNKNOWN}};
  std::transform(state.begin(), state.end(), state.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!state.empty()) {
    auto s = states.find(state);
    if (s == states.end()) {
      flags.usage_error("--state: expected created, running, exited or unknown, got \"" + state + "\"");
    }
    filter->mutable_state()->set_state(s->second);
  } else if (!all) {
    filter->mutable_state()->set_state(v1::CONTAINER_RUNNING);
  }
  v1::ListContainersResponse resp;
  client.check(client.runtime().ListContainers(client.context().get(), req, &resp), "ListContainers");

  v1::ListContainersResponse shown;
  for (const auto& c : resp.containers()) {
    if (std::regex_search(c.metadata().name(), name_re)) *shown.add_containers() = c;
  }
  std::stable_sort(shown.mutable_containers()->begin(), shown.mutable_containers()->end(),
                   [](const v1::Container& a, const v1::Container& b) { return a.created_at() > b.created_at(); });
  if (format == Format::json) {
    std::cout << to_json(shown);
    return 0;
  }
  if (quiet) {
    for (const auto& c : shown.containers()) std::cout << c.id() << "\n";
    return 0;
  }
  // The POD column: names from the pod list (containers not made by kubelet have no pod-name label).
  v1::ListPodSandboxResponse pods;
  client.check(client.runtime().ListPodSandbox(client.context().get(), v1::ListPodSandboxRequest(), &pods),
               "ListPodSandbox");
  std::map<std::string, std::string> pod_names;
  for (const auto& p : pods.items()) pod_names[p.id()] = p.metadata().name();
  const int64_t now = now_ns();
  Table t({"CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD"});
  for (const auto& c : shown.containers()) {
    const std::string& image = c.image().image();
    auto pod_name = pod_names.find(c.pod_sandbox_id());
    t.add({truncate_id(c.id(), no_trunc), image.rfind("sha256:", 0) == 0 ? truncate_id(image, no_trunc) : image,
           relative_time(c.created_at(), now), container_state(c.state()), c.metadata().name(),
           std::to_string(c.metadata().attempt()), truncate_id(c.pod_sandbox_id(), no_trunc),
           pod_name == pod_names.end() ? "unknown" : pod_name->second});
  }
  t.print(std::cout);
  return 0;
}

int cmd_inspect(Client& client, const Options&, const Args& args) {
  Flags flags("inspect", "inspect CONTAINER_ID...",
              "Show containers' status as JSON, with the runtime's verbose info (like crictl inspect).");
  auto ids = flags.parse(args);
  if (ids.empty()) flags.usage_error("missing CONTAINER_ID");
  for (const auto& id : ids) {
    auto resp = container_status(client, id, true);
    std::cout << status_with_info(resp.status(), resp.info());
  }
  return 0;
}

namespace {

void print_entries(const std::vector<LogEntry>& entries, size_t from, bool timestamps) {
  for (size_t i = from; i < entries.size(); ++i) {
    std::ostream& out = entries[i].stream == Stream::err ? std::cerr : std::cout;
    if (timestamps) out << entries[i].timestamp << " ";
    out << entries[i].text;
  }
  std::cout.flush();
  std::cerr.flush();
}

// Appends what can be read from `fd` now to the reader; returns the entries it completes.
std::vector<LogEntry> read_available(int fd, LogReader& reader, const std::string& path) {
  std::vector<LogEntry> out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read " + path);
    if (n == 0) return out;
    auto entries = reader.feed(std::string_view(buf, static_cast<size_t>(n)));
    out.insert(out.end(), std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
  }
}

}  // namespace

int cmd_logs(Client& client, const Options&, const Args& args) {
  bool follow = false, timestamps = false;
  int64_t tail = -1;
  Flags flags("logs", "logs [-f] [--tail N] [-t] CONTAINER_ID",
              "Print a container's output from its CRI log file (on this host): stdout to stdout, stderr to stderr.");
  flags.add("-f, --follow", "keep printing new output until the container exits", &follow);
  flags.add("--tail", "N", "only the last N lines (default: all)", &tail);
  flags.add("-t, --timestamps", "prefix each line with the time it was logged", &timestamps);
  auto pos = flags.parse(args);
  if (pos.size() != 1) flags.usage_error("expected one CONTAINER_ID");
  const std::string path = container_status(client, pos[0], false).status().log_path();
  if (path.empty()) throw std::runtime_error("container " + pos[0] + " has no log file");

  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  LogReader reader;
  auto entries = read_available(fd.get(), reader, path);
  const size_t shown = tail >= 0 ? static_cast<size_t>(tail) : entries.size();
  print_entries(entries, entries.size() - std::min(shown, entries.size()), timestamps);
  if (follow) {
    // Poll the file; the container's state is checked once a second, and the file reopened when
    // the runtime has rotated it (a new file at the path).
    auto next_check = std::chrono::steady_clock::now();
    for (;;) {
      print_entries(read_available(fd.get(), reader, path), 0, timestamps);
      struct stat now_at_path {}, open_file {};
      if (::stat(path.c_str(), &now_at_path) == 0 && ::fstat(fd.get(), &open_file) == 0 &&
          (now_at_path.st_ino != open_file.st_ino || now_at_path.st_dev != open_file.st_dev)) {
        UniqueFd rotated(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!rotated) continue;
        print_entries(read_available(fd.get(), reader, path), 0, timestamps);  // the old file's last lines
        fd = std::move(rotated);
        continue;
      }
      if (std::chrono::steady_clock::now() >= next_check) {
        if (container_status(client, pos[0], false).status().state() != v1::CONTAINER_RUNNING) {
          print_entries(read_available(fd.get(), reader, path), 0, timestamps);
          break;
        }
        next_check = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  if (reader.malformed() > 0) {
    std::cerr << "vpcrictl logs: skipped " << reader.malformed() << " line(s) not in the CRI log format\n";
  }
  return 0;
}

int cmd_exec(Client& client, const Options& opts, const Args& args) {
  bool sync = true, interactive = false, tty = false, websocket = false;
  int64_t timeout = 0;
  Flags flags("exec", "exec [-s] [-i] [-t] [--websocket] [--timeout SECONDS] CONTAINER_ID COMMAND [ARG...]",
              "Run a command in a running container and wait for it: print its output and exit with its\n"
              "exit code. Without -i/-t/--websocket through ExecSync; with them through Exec and the\n"
              "streaming server (stdin passed on, a terminal with -t). Options go before the CONTAINER_ID.");
  flags.add("-s, --sync", "run through ExecSync (the default without -i/-t)", &sync);
  flags.add("-i, --interactive", "pass stdin on (streaming Exec)", &interactive);
  flags.add("-t, --tty", "run in a terminal (streaming Exec; stderr goes to it too)", &tty);
  flags.add("--websocket", "streaming Exec over WebSocket (v5.channel.k8s.io) instead of SPDY/3.1", &websocket);
  flags.add("--timeout", "SECONDS", "kill the command after this long (default: no limit; ExecSync only)", &timeout);
  flags.stop_at_positional();
  auto pos = flags.parse(args);
  if (pos.size() < 2) flags.usage_error("expected CONTAINER_ID COMMAND");
  if (timeout < 0) flags.usage_error("--timeout: must not be negative");
  if (interactive || tty || websocket) {
    return exec_streaming(client, pos[0], {pos.begin() + 1, pos.end()}, interactive, tty, websocket);
  }
  v1::ExecSyncRequest req;
  req.set_container_id(pos[0]);
  req.mutable_cmd()->Add(pos.begin() + 1, pos.end());
  req.set_timeout(timeout);
  // The call lasts as long as the command: a little past its timeout; without one, the global
  // --timeout if given, else a day.
  std::chrono::milliseconds deadline = std::chrono::hours(24);
  if (timeout > 0) {
    deadline = std::chrono::seconds(timeout + 10);
  } else if (opts.timeout_set) {
    deadline = opts.timeout;
  }
  v1::ExecSyncResponse resp;
  client.check(client.runtime().ExecSync(client.context(deadline).get(), req, &resp), "ExecSync");
  std::cout << resp.stdout() << std::flush;
  std::cerr << resp.stderr() << std::flush;
  return resp.exit_code();
}

int cmd_stats(Client& client, const Options& opts, const Args& args) {
  Format format = opts.format;
  bool all = false;
  v1::ListContainerStatsRequest req;
  std::map<std::string, std::string> labels;
  Flags flags("stats", "stats [-a] [--id ID] [--pod POD_ID] [--label KEY=VALUE]...",
              "Show containers' resource usage; only running ones unless -a. CPU % is measured over one\n"
              "second, between two samples (like crictl); MEM is the working set, DISK and INODES the\n"
              "writable layer's use.");
  flags.add("-a, --all", "also containers that are not running", &all);
  flags.add("--id", "ID", "only the container with this id or id prefix", req.mutable_filter()->mutable_id());
  flags.add("-p, --pod", "POD_ID", "only containers of this pod", req.mutable_filter()->mutable_pod_sandbox_id());
  flags.add_labels(&labels);
  flags.add_output(&format);
  if (!flags.parse(args).empty()) flags.usage_error("unexpected argument");
  req.mutable_filter()->mutable_label_selector()->insert(labels.begin(), labels.end());

  auto sample = [&] {
    v1::ListContainerStatsResponse resp;
    client.check(client.runtime().ListContainerStats(client.context().get(), req, &resp), "ListContainerStats");
    return resp;
  };
  v1::ListContainerStatsResponse before = sample();
  if (format == Format::json) {
    std::cout << to_json(before);
    return 0;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  v1::ListContainerStatsResponse after = sample();
  std::map<std::string, v1::CpuUsage> cpu_before;
  for (const auto& s : before.stats()) cpu_before[s.attributes().id()] = s.cpu();
  Table t({"CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"});
  for (const auto& s : after.stats()) {
    const uint64_t cpu = s.cpu().usage_core_nano_seconds().value();
    const uint64_t mem = s.memory().working_set_bytes().value();
    if (!all && cpu == 0 && mem == 0) continue;  // not running, as crictl tells
    auto old = cpu_before.find(s.attributes().id());
    if (old == cpu_before.end()) continue;  // a new container: no first sample
    t.add({truncate_id(s.attributes().id(), false), s.attributes().metadata().name(),
           cpu_percent(old->second.usage_core_nano_seconds().value(), old->second.timestamp(), cpu,
                       s.cpu().timestamp()),
           human_size(mem), human_size(s.writable_layer().used_bytes().value()),
           std::to_string(s.writable_layer().inodes_used().value())});
  }
  t.print(std::cout);
  return 0;
}

int cmd_update(Client& client, const Options& opts, const Args& args) {
  v1::LinuxContainerResources res;
  int64_t shares = 0, quota = 0, period = 0, memory = 0;
  Flags flags("update", "update [options] CONTAINER_ID...",
              "Change running containers' CPU and memory limits (UpdateContainerResources); only the\n"
              "limits given are sent.");
  flags.add("--cpu-shares", "N", "CPU shares (relative weight)", &shares);
  flags.add("--cpu-quota", "MICROSECONDS", "CPU time per period (CFS quota)", &quota);
  flags.add("--cpu-period", "MICROSECONDS", "CFS period", &period);
  flags.add("--memory", "BYTES", "memory limit", &memory);
  auto ids = flags.parse(args);
  if (ids.empty()) flags.usage_error("missing CONTAINER_ID");
  if (shares == 0 && quota == 0 && period == 0 && memory == 0) {
    flags.usage_error("nothing to update: give --cpu-shares, --cpu-quota, --cpu-period or --memory");
  }
  res.set_cpu_shares(shares);
  res.set_cpu_quota(quota);
  res.set_cpu_period(period);
  res.set_memory_limit_in_bytes(memory);
  for (const auto& id : ids) {
    v1::UpdateContainerResourcesRequest req;
    req.set_container_id(id);
    *req.mutable_linux() = res;
    v1::UpdateContainerResourcesResponse resp;
    client.check(client.runtime().UpdateContainerResources(client.context(lifecycle_timeout(opts)).get(), req, &resp),
                 "UpdateContainerResources");
    std::cout << id << "\n";
  }
  return 0;
}

}  // namespace vpcri::ctl

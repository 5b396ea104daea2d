#include "tests/integration/crash_support.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "tests/integration/cgroup_layout.h"

namespace vpcri::test {

namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

v1::ContainerConfig container_config() {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name("app");
  c.mutable_image()->set_image(kTestImage);
  c.add_command("/bin/sleep");
  c.add_args("1000");
  return c;
}

// Every process's command line (NULs between the arguments), by pid.
std::map<pid_t, std::string> processes() {
  std::map<pid_t, std::string> out;
  std::error_code ec;
  for (const auto& proc : stdfs::directory_iterator("/proc", ec)) {
    const std::string name = proc.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    try {
      out[static_cast<pid_t>(std::stoi(name))] = vpcri::fs::read_file(proc.path().string() + "/cmdline");
    } catch (const std::exception&) {
      continue;  // ended meanwhile
    }
  }
  return out;
}

// The end of a sync: with `remove`, the pod stopped and removed.
grpc::Status finish(Daemon& d, const std::string& pod_id, bool remove, const PodSyncOptions& options) {
  if (!remove) return grpc::Status::OK;
  if (options.on_stopping) options.on_stopping(pod_id);
  grpc::Status s = stop_pod(d, pod_id);
  if (!s.ok()) return s;
  return remove_pod(d, pod_id);
}

}  // namespace

void start_daemon(Daemon& d, const std::string& failpoint, const std::string& config_yaml) {
  d.set_config(config_yaml);
  if (failpoint.empty()) {
    ::unsetenv("VPCRI_FAILPOINT");
  } else {
    ::setenv("VPCRI_FAILPOINT", failpoint.c_str(), 1);
  }
  // Armed for this start only, also when it throws.
  struct Disarm {
    ~Disarm() { ::unsetenv("VPCRI_FAILPOINT"); }
  } disarm;
  d.start();
}

v1::PodSandboxConfig crash_pod_config(const std::string& name) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("crash");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}

grpc::Status sync_pod(Daemon& d, const std::string& name, bool remove, std::set<std::string>* seen_ids,
                      const PodSyncOptions& options) {
  auto config = crash_pod_config(name);
  if (options.configure) options.configure(config);
  v1::ListPodSandboxRequest list_req;
  (*list_req.mutable_filter()->mutable_label_selector()) = {};
  v1::ListPodSandboxResponse pods;
  grpc::Status s = d.runtime().ListPodSandbox(context().get(), list_req, &pods);
  if (!s.ok()) return s;
  std::string pod_id;
  for (const auto& p : pods.items()) {
    if (p.metadata().name() != name) continue;
    seen_ids->insert(p.id());
    if (p.state() == v1::SANDBOX_READY && pod_id.empty()) {
      pod_id = p.id();
      continue;
    }
    // As kubelet: a dead sandbox is stopped and removed, a new one made.
    if (options.on_stopping) options.on_stopping(p.id());
    if (!(s = stop_pod(d, p.id())).ok()) return s;
    if (!(s = remove_pod(d, p.id())).ok()) return s;
  }
  if (pod_id.empty()) {
    if (!(s = run_pod(d, config, &pod_id)).ok()) return s;
    seen_ids->insert(pod_id);
  }
  if (options.on_ready && !(s = options.on_ready(pod_id)).ok()) return s;
  if (!options.with_container) return finish(d, pod_id, remove, options);
  v1::ListContainersRequest creq;
  creq.mutable_filter()->set_pod_sandbox_id(pod_id);
  v1::ListContainersResponse containers;
  if (!(s = d.runtime().ListContainers(context().get(), creq, &containers)).ok()) return s;
  std::string ctr_id;
  v1::ContainerState ctr_state = v1::CONTAINER_UNKNOWN;
  for (const auto& c : containers.containers()) {
    seen_ids->insert(c.id());
    if (c.state() == v1::CONTAINER_EXITED) {
      v1::RemoveContainerRequest rreq;
      rreq.set_container_id(c.id());
      v1::RemoveContainerResponse rresp;
      if (!(s = d.runtime().RemoveContainer(context(60s).get(), rreq, &rresp)).ok()) return s;
      continue;
    }
    ctr_id = c.id();
    ctr_state = c.state();
  }
  if (ctr_id.empty()) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id);
    *req.mutable_config() = container_config();
    *req.mutable_sandbox_config() = config;
    v1::CreateContainerResponse resp;
    if (!(s = d.runtime().CreateContainer(context(60s).get(), req, &resp)).ok()) return s;
    ctr_id = resp.container_id();
    seen_ids->insert(ctr_id);
    ctr_state = v1::CONTAINER_CREATED;
  }
  if (ctr_state == v1::CONTAINER_CREATED) {
    v1::StartContainerRequest req;
    req.set_container_id(ctr_id);
    v1::StartContainerResponse resp;
    if (!(s = d.runtime().StartContainer(context(60s).get(), req, &resp)).ok()) return s;
  }
  v1::ContainerStatusRequest sreq;
  sreq.set_container_id(ctr_id);
  v1::ContainerStatusResponse sresp;
  if (!(s = d.runtime().ContainerStatus(context().get(), sreq, &sresp)).ok()) return s;
  if (sresp.status().state() != v1::CONTAINER_RUNNING) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "container " + ctr_id + " is " +
                                                        v1::ContainerState_Name(sresp.status().state()));
  }
  return finish(d, pod_id, remove, options);
}

std::map<std::string, int> leftovers(Daemon& d, const std::set<std::string>& ids, const std::string& only) {
  std::map<std::string, int> out{{"mounts", 0}, {"dirs", 0}, {"cgroups", 0}, {"monitors", 0}, {"processes", 0}};
  auto counted = [&](const std::string& text) { return only.empty() || text.find(only) != std::string::npos; };
  std::istringstream mountinfo(vpcri::fs::read_file("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (mount_point.rfind(d.dir() + "/", 0) == 0 && counted(mount_point)) {
      MESSAGE("left mounted: " << mount_point);
      ++out["mounts"];
    }
  }
  for (const std::string& top : {d.root() + "/pods", d.root() + "/containers", d.state() + "/pods",
                                 d.state() + "/containers"}) {
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(top, ec)) {
      if (!counted(e.path().string())) continue;
      MESSAGE("left: " << e.path().string());
      ++out["dirs"];
    }
  }
  for (const std::string& id : ids) {
    if (counted(id) && cgroup_anywhere("/vpcri/" + id)) {
      MESSAGE("left cgroup: /vpcri/" << id);
      ++out["cgroups"];
    }
  }
  // Monitors name their state dir (under the daemon's temp dir) on their command line.
  for (const auto& [pid, cmdline] : processes()) {
    if (cmdline.find("vpcri-monitor") != std::string::npos && cmdline.find(d.dir() + "/") != std::string::npos &&
        counted(cmdline)) {
      MESSAGE("left running: pid " << pid);
      ++out["monitors"];
    }
  }
  // Processes in a cgroup of one of the objects, wherever they are (pause has no monitor). A
  // zombie has ended: only its reaping by init (pause's parent) is left.
  for (const auto& [pid, cmdline] : processes()) {
    std::string cgroups;
    try {
      cgroups = vpcri::fs::read_file("/proc/" + std::to_string(pid) + "/cgroup");
    } catch (const std::exception&) {
      continue;  // ended meanwhile
    }
    for (const std::string& id : ids) {
      if (!counted(id) || cgroups.find(id) == std::string::npos) continue;
      // SIGKILLed by the cgroup removal, it may still be on its way out: give it a moment.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (process_runs(pid) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (process_runs(pid)) {
        MESSAGE("left running in a cgroup of " << id << ": pid " << pid);
        ++out["processes"];
      }
      break;
    }
  }
  return out;
}

void collect_ids(Daemon& d, std::set<std::string>* ids) {
  for (const std::string& top : {d.root() + "/pods", d.root() + "/containers"}) {
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(top, ec)) ids->insert(e.path().filename().string());
  }
}

pid_t daemon_pid(Daemon& d) {
  std::set<pid_t> candidates;
  for (const auto& [pid, cmdline] : processes()) {
    if (cmdline.find("vpcrid") != std::string::npos && cmdline.find("vpcri-monitor") == std::string::npos &&
        cmdline.find(d.dir() + "/") != std::string::npos) {
      candidates.insert(pid);
    }
  }
  // vpcrid's short-lived forks (pause's spawn step, a placeholder) share its command line: the
  // daemon is the one whose parent is not one of them (after a pid wrap a fork may have the
  // lower pid).
  for (pid_t pid : candidates) {
    if (!candidates.count(parent_pid(pid))) return pid;
  }
  FAIL("no vpcrid runs for " << d.dir());
  return -1;
}

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value ? std::atoi(value) : fallback;
}

ChurnResult run_churn(Daemon& d, int workers, int cycles, int kills,
                      const std::function<grpc::Status(int worker, int cycle, std::set<std::string>* seen_ids)>& sync,
                      const std::function<void()>& restart) {
  ChurnResult result;
  std::mutex ids_mu;
  std::atomic<int> done{0}, failed_requests{0};
  // Workers go on past their cycles until every kill has landed: a fast run must not end the
  // churn before the crashes it is there to survive.
  std::atomic<bool> all_killed{false};
  std::vector<std::thread> threads;
  // Held shared by each sync, exclusively while the killed daemon is restarted (the fixture's
  // stub is replaced then). The SIGKILL itself lands at any moment, mid-request.
  std::shared_mutex daemon_mu;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      std::set<std::string> mine;
      int cycle = 0;
      // A failed sync is always retried, as kubelet does, even past the last kill: a worker that
      // gave up on the cycle the last kill cut short would leave its pod behind itself.
      bool last_ok = true;
      while (!last_ok || cycle < cycles / workers || !all_killed) {
        grpc::Status s;
        {
          std::shared_lock lock(daemon_mu);
          s = sync(w, cycle, &mine);
        }
        last_ok = s.ok();
        if (s.ok()) {
          ++cycle;
          ++done;
        } else {
          ++failed_requests;
          std::this_thread::sleep_for(50ms);  // kubelet's retry after a failed sync
        }
      }
      std::lock_guard lock(ids_mu);
      result.ids.insert(mine.begin(), mine.end());
    });
  }
  std::mt19937 rng(42);
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 800));
    REQUIRE(::kill(daemon_pid(d), SIGKILL) == 0);
    ++result.kills;
    std::unique_lock lock(daemon_mu);
    d.stop(SIGKILL);
    {
      std::lock_guard ids_lock(ids_mu);
      collect_ids(d, &result.ids);
    }
    restart();
  }
  all_killed = true;
  for (auto& t : threads) t.join();
  collect_ids(d, &result.ids);
  result.cycles = done;
  result.failed_requests = failed_requests;
  return result;
}

}  // namespace vpcri::test

// vpcri-bench: a CRI load generator for any CRI endpoint (vpcrid, containerd, CRI-O).
//
// Drives the runtime through runtime.v1 only (our gRPC client, no crictl) and measures, for one
// runtime in one fresh daemon:
//   1. pod start   RunPodSandbox + CreateContainer + StartContainer of a busybox sleep, serial,
//                  after a warm-up that is excluded; per-op and total latency
//   3. teardown    StopContainer + StopPodSandbox + RemoveContainer + RemovePodSandbox of each
//   5. CPU         daemon + helpers (shims, monitors, CNI plugins...) per pod lifecycle, over 1+3
//   2. throughput  the same with C worker threads: pods per second (start and teardown)
//   4. memory      daemon RSS idle and with S pods running, RSS of every helper process
//   6. ExecSync    latency of `true` in running containers
//   7. RPCs        latency of the other calls kubelet makes often (rpc_latency.h) with R pods running
// and writes the raw samples and summaries as JSON. bench/run.sh renders the table.
//
// Processes are found through /proc: the daemon (--daemon-pid), every process in --cpu-cgroup
// (run.sh starts the daemon in a cpuacct cgroup of its own, which shims and monitors inherit), and
// all their descendants. Processes whose executable's base name is in --helpers are helpers; other
// descendants are workloads (the sleeps) and are not counted.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_stats.h"
#include "bench/proc_files.h"
#include "bench/rpc_latency.h"
#include "cri/ctl/client.h"

namespace {

using json = nlohmann::json;
using vpcri::bench::Clock;
using vpcri::bench::histogram;
using vpcri::bench::ms_since;
using vpcri::bench::read_file;
using vpcri::bench::summarize;
namespace rt = runtime::v1;

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string endpoint;
  std::string name = "runtime";
  std::string image;
  std::vector<std::string> pull;
  int pods = 100;
  int warmup = 5;
  std::vector<int> concurrency = {8, 32};
  int pods_per_worker = 4;
  int steady_pods = 50;
  int exec = 100;
  int rpc_calls = 100;
  int rpc_pods = 10;
  int image_removes = 20;
  std::string remove_image;
  int settle_ms = 3000;
  int daemon_pid = 0;
  std::set<std::string> helpers;
  std::string cpu_cgroup;
  std::string pod_cgroup;
  std::string cgroup_parent;
  std::string log_dir = "/tmp";
  std::string ns = "vpcri-bench";
  std::string out;
  int timeout_s = 120;
  int stop_timeout_s = 0;
  std::string after_serial;  // a shell command run once the serial lifecycles are done
};

[[noreturn]] void usage(const std::string& why) {
  if (!why.empty()) std::cerr << "vpcri-bench: " << why << "\n";
  std::cerr << "usage: vpcri-bench --endpoint unix:///path.sock --image REF --out FILE.json [options]\n"
               "  --name LABEL           runtime label in the output (default runtime)\n"
               "  --pull REF             pull before the warm-up (repeatable; --image is always pulled)\n"
               "  --pods N               serial pod starts measured (default 100)\n"
               "  --warmup N             pod lifecycles before measuring, excluded (default 5)\n"
               "  --concurrency 8,32     worker counts for the throughput scenario (empty: skip)\n"
               "  --pods-per-worker N    pods each worker starts there (default 4)\n"
               "  --steady-pods N        pods running for the memory and ExecSync scenarios (default 50)\n"
               "  --exec N               ExecSync calls measured (default 100; 0: skip)\n"
               "  --rpc-calls N          samples of each status/list/image RPC (default 100; 0: skip)\n"
               "  --rpc-pods N           pods running while they are measured (default 10)\n"
               "  --remove-image REF     pulled and removed for each RemoveImage sample (none: no RemoveImage)\n"
               "  --image-removes N      RemoveImage samples (default 20)\n"
               "  --settle-ms MS         wait before sampling memory (default 3000)\n"
               "  --daemon-pid PID       the daemon, for RSS and CPU\n"
               "  --helpers a,b          executable base names of per-pod helper processes\n"
               "  --cpu-cgroup DIR       cpuacct cgroup dir the daemon was started in\n"
               "  --pod-cgroup DIR       cpuacct dir of --cgroup-parent (pods' cgroups, hierarchical usage)\n"
               "  --cgroup-parent PATH   LinuxPodSandboxConfig.cgroup_parent of every pod\n"
               "  --log-dir DIR          pod log directories go under here (default /tmp)\n"
               "  --namespace NS         pod namespace (default vpcri-bench)\n"
               "  --timeout S            per-RPC deadline (default 120)\n"
               "  --after-serial CMD     shell command run right after the serial lifecycles (e.g. a\n"
               "                         scrape of the daemon's metrics, so its phases are the serial ones)\n";
  std::exit(2);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&]() {
      std::string v = value();
      try {
        return std::stoi(v);
      } catch (const std::exception&) {
        usage(a + ": not a number: " + v);
      }
    };
    if (a == "--endpoint") o.endpoint = value();
    else if (a == "--name") o.name = value();
    else if (a == "--image") o.image = value();
    else if (a == "--pull") o.pull.push_back(value());
    else if (a == "--pods") o.pods = number();
    else if (a == "--warmup") o.warmup = number();
    else if (a == "--concurrency") {
      o.concurrency.clear();
      for (auto& c : split(value(), ',')) o.concurrency.push_back(std::stoi(c));
    } else if (a == "--pods-per-worker") o.pods_per_worker = number();
    else if (a == "--steady-pods") o.steady_pods = number();
    else if (a == "--exec") o.exec = number();
    else if (a == "--rpc-calls") o.rpc_calls = number();
    else if (a == "--rpc-pods") o.rpc_pods = number();
    else if (a == "--remove-image") o.remove_image = value();
    else if (a == "--image-removes") o.image_removes = number();
    else if (a == "--settle-ms") o.settle_ms = number();
    else if (a == "--daemon-pid") o.daemon_pid = number();
    else if (a == "--helpers") {
      for (auto& h : split(value(), ',')) o.helpers.insert(h);
    } else if (a == "--cpu-cgroup") o.cpu_cgroup = value();
    else if (a == "--pod-cgroup") o.pod_cgroup = value();
    else if (a == "--cgroup-parent") o.cgroup_parent = value();
    else if (a == "--log-dir") o.log_dir = value();
    else if (a == "--namespace") o.ns = value();
    else if (a == "--out") o.out = value();
    else if (a == "--timeout") o.timeout_s = number();
    else if (a == "--after-serial") o.after_serial = value();
    else if (a == "-h" || a == "--help") usage("");
    else usage("unknown option " + a);
  }
  if (o.endpoint.empty() || o.image.empty() || o.out.empty()) usage("--endpoint, --image and --out are required");
  if (o.pods < 1 || o.warmup < 0 || o.steady_pods < 0 || o.exec < 0 || o.rpc_calls < 0 || o.rpc_pods < 1 ||
      o.image_removes < 0)
    usage("counts must be positive");
  return o;
}

// ---------------------------------------------------------------------------------------------
// /proc

struct ProcInfo {
  int pid = 0;
  int ppid = 0;
  std::string exe;  // base name of /proc/PID/exe, or comm when unreadable
  long long ticks = 0;         // utime + stime
  long long child_ticks = 0;   // cutime + cstime (waited-for children)
  long long rss_kb = 0;
  long long pss_kb = 0;
};

bool read_stat(int pid, ProcInfo& p) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(stat.substr(close + 2));
  std::vector<std::string> f;
  std::string tok;
  while (rest >> tok) f.push_back(tok);
  // f[0] is field 3 (state): ppid=4, utime=14, stime=15, cutime=16, cstime=17.
  if (f.size() < 15) return false;
  p.pid = pid;
  p.ppid = std::stoi(f[1]);
  p.ticks = std::stoll(f[11]) + std::stoll(f[12]);
  p.child_ticks = std::stoll(f[13]) + std::stoll(f[14]);
  auto open = stat.find('(');
  p.exe = stat.substr(open + 1, close - open - 1);
  char buf[4096];
  ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
  if (n > 0) {
    std::string exe(buf, static_cast<size_t>(n));
    if (exe.size() > 10 && exe.ends_with(" (deleted)")) exe.resize(exe.size() - 10);
    p.exe = exe.substr(exe.rfind('/') + 1);
  }
  return true;
}

void read_memory(ProcInfo& p) {
  const vpcri::bench::ProcMemory m = vpcri::bench::proc_memory(p.pid);
  p.rss_kb = m.rss_kb;
  p.pss_kb = m.pss_kb;
}

std::vector<int> all_pids() {
  std::vector<int> pids;
  DIR* d = opendir("/proc");
  if (!d) return pids;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end && *end == '\0' && pid > 0) pids.push_back(static_cast<int>(pid));
  }
  closedir(d);
  return pids;
}

struct Tracked {
  ProcInfo daemon;
  std::vector<ProcInfo> helpers;
  std::vector<ProcInfo> workloads;
  long long cgroup_cpu_ns = -1;  // cpuacct.usage of --cpu-cgroup, -1 when absent
  long long pod_cgroup_cpu_ns = -1;  // cpuacct.usage of --pod-cgroup (all pods, also removed ones)
};

class ProcessTracker {
 public:
  ProcessTracker(int daemon_pid, std::set<std::string> helpers, std::string cgroup, std::string pod_cgroup)
      : daemon_pid_(daemon_pid),
        helpers_(std::move(helpers)),
        cgroup_(std::move(cgroup)),
        pod_cgroup_(std::move(pod_cgroup)) {}

  bool enabled() const { return daemon_pid_ > 0; }

  Tracked sample(bool memory) const {
    Tracked t;
    if (!cgroup_.empty()) {
      std::string usage = read_file(cgroup_ + "/cpuacct.usage");
      if (!usage.empty()) t.cgroup_cpu_ns = std::atoll(usage.c_str());
    }
    if (!pod_cgroup_.empty()) {
      std::string usage = read_file(pod_cgroup_ + "/cpuacct.usage");
      if (!usage.empty()) t.pod_cgroup_cpu_ns = std::atoll(usage.c_str());
    }
    if (!enabled()) return t;
    std::map<int, ProcInfo> procs;
    for (int pid : all_pids()) {
      ProcInfo p;
      if (read_stat(pid, p)) procs[pid] = p;
    }
    std::set<int> roots{daemon_pid_};
    // Roots: the daemon, whatever is in its cgroup (shims reparented to init stay there), and
    // whatever is in the pods' cgroups (helpers a runtime moves into the pod's cgroup).
    std::vector<std::string> dirs;
    if (!cgroup_.empty()) dirs.push_back(cgroup_);
    if (!pod_cgroup_.empty()) dirs.push_back(pod_cgroup_);
    while (!dirs.empty()) {
      std::string dir = dirs.back();
      dirs.pop_back();
      std::istringstream in(read_file(dir + "/cgroup.procs"));
      int pid;
      while (in >> pid) roots.insert(pid);
      if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d))
          if (e->d_type == DT_DIR && e->d_name[0] != '.') dirs.push_back(dir + "/" + e->d_name);
        closedir(d);
      }
    }
    std::map<int, std::vector<int>> children;
    for (auto& [pid, p] : procs) children[p.ppid].push_back(pid);
    std::set<int> seen;
    std::vector<int> stack(roots.begin(), roots.end());
    while (!stack.empty()) {
      int pid = stack.back();
      stack.pop_back();
      if (!seen.insert(pid).second || !procs.count(pid)) continue;
      for (int c : children[pid]) stack.push_back(c);
    }
    for (int pid : seen) {
      auto it = procs.find(pid);
      if (it == procs.end()) continue;
      ProcInfo p = it->second;
      if (memory) read_memory(p);
      if (pid == daemon_pid_) t.daemon = p;
      else if (helpers_.count(p.exe)) t.helpers.push_back(p);
      else t.workloads.push_back(p);
    }
    return t;
  }

 private:
  int daemon_pid_;
  std::set<std::string> helpers_;
  std::string cgroup_;
  std::string pod_cgroup_;
};

long long cpu_ticks(const Tracked& t) {
  long long sum = t.daemon.ticks + t.daemon.child_ticks;
  for (auto& h : t.helpers) sum += h.ticks + h.child_ticks;
  return sum;
}

json memory_json(const Tracked& t) {
  json by_exe = json::object();
  long long helpers_rss = 0, helpers_pss = 0;
  json list = json::array();
  for (auto& h : t.helpers) {
    helpers_rss += h.rss_kb;
    helpers_pss += h.pss_kb;
    auto& e = by_exe[h.exe];
    if (e.is_null()) e = json{{"count", 0}, {"rss_kb", 0}, {"pss_kb", 0}};
    e["count"] = e["count"].get<int>() + 1;
    e["rss_kb"] = e["rss_kb"].get<long long>() + h.rss_kb;
    e["pss_kb"] = e["pss_kb"].get<long long>() + h.pss_kb;
    list.push_back({{"pid", h.pid}, {"exe", h.exe}, {"rss_kb", h.rss_kb}, {"pss_kb", h.pss_kb}});
  }
  return json{{"daemon_rss_kb", t.daemon.rss_kb},
              {"daemon_pss_kb", t.daemon.pss_kb},
              {"helpers_rss_kb", helpers_rss},
              {"helpers_pss_kb", helpers_pss},
              {"total_rss_kb", t.daemon.rss_kb + helpers_rss},
              {"total_pss_kb", t.daemon.pss_kb + helpers_pss},
              {"helpers_by_exe", by_exe},
              {"helpers", list},
              {"workload_processes", t.workloads.size()}};
}

// Median of several samples a second apart, by total RSS: one scheduling hiccup does not decide.
json memory_steady(const ProcessTracker& tracker, int samples) {
  std::vector<json> all;
  for (int i = 0; i < samples; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::seconds(1));
    all.push_back(memory_json(tracker.sample(true)));
  }
  std::sort(all.begin(), all.end(), [](const json& a, const json& b) {
    return a["total_rss_kb"].get<long long>() < b["total_rss_kb"].get<long long>();
  });
  json m = all[all.size() / 2];
  json totals = json::array();
  for (auto& s : all) totals.push_back(s["total_rss_kb"]);
  m["total_rss_kb_samples"] = totals;
  return m;
}

// ---------------------------------------------------------------------------------------------
// CRI

struct Pod {
  std::string name;
  std::string sandbox_id;
  std::string container_id;
  rt::PodSandboxConfig config;
};

struct StartTimes {
  double run_pod = 0, create = 0, start = 0, total = 0;
};
struct StopTimes {
  double stop_container = 0, stop_pod = 0, remove_container = 0, remove_pod = 0, total = 0;
};

class Bench {
 public:
  explicit Bench(Options o)
      : o_(std::move(o)),
        client_(o_.endpoint, std::chrono::seconds(o_.timeout_s)),
        tracker_(o_.daemon_pid, o_.helpers, o_.cpu_cgroup, o_.pod_cgroup) {}

  rt::PodSandboxConfig pod_config(const std::string& name) const {
    rt::PodSandboxConfig c;
    auto* m = c.mutable_metadata();
    m->set_name(name);
    m->set_namespace_(o_.ns);
    m->set_uid(name + "-uid");
    m->set_attempt(0);
    c.set_hostname(name.size() > 63 ? name.substr(0, 63) : name);
    c.set_log_directory(o_.log_dir + "/" + name);
    (*c.mutable_labels())["vpcri-bench"] = "1";
    (*c.mutable_labels())["vpcri-bench-run"] = o_.name;
    auto* linux = c.mutable_linux();
    if (!o_.cgroup_parent.empty()) linux->set_cgroup_parent(o_.cgroup_parent);
    return c;
  }

  rt::ContainerConfig container_config() const {
    rt::ContainerConfig c;
    c.mutable_metadata()->set_name("sleep");
    c.mutable_image()->set_image(o_.image);
    c.add_command("/bin/sleep");
    c.add_command("3600");
    c.set_log_path("sleep.log");
    (*c.mutable_labels())["vpcri-bench"] = "1";
    c.mutable_linux();
    return c;
  }

  // Runs one RPC with a fresh context and returns its latency in ms; a failure throws.
  template <class Call>
  double timed(const char* name, Call call) {
    auto ctx = client_.context();
    auto t1 = Clock::now();
    client_.check(call(ctx.get()), name);
    return ms_since(t1);
  }

  StartTimes start_pod(Pod& pod) {
    StartTimes t;
    auto t0 = Clock::now();
    pod.config = pod_config(pod.name);
    {
      rt::RunPodSandboxRequest req;
      *req.mutable_config() = pod.config;
      rt::RunPodSandboxResponse resp;
      t.run_pod = timed("RunPodSandbox", [&](grpc::ClientContext* ctx) {
        return client_.runtime().RunPodSandbox(ctx, req, &resp);
      });
      pod.sandbox_id = resp.pod_sandbox_id();
    }
    {
      rt::CreateContainerRequest req;
      req.set_pod_sandbox_id(pod.sandbox_id);
      *req.mutable_config() = container_config();
      *req.mutable_sandbox_config() = pod.config;
      rt::CreateContainerResponse resp;
      t.create = timed("CreateContainer", [&](grpc::ClientContext* ctx) {
        return client_.runtime().CreateContainer(ctx, req, &resp);
      });
      pod.container_id = resp.container_id();
    }
    {
      rt::StartContainerRequest req;
      req.set_container_id(pod.container_id);
      rt::StartContainerResponse resp;
      t.start = timed("StartContainer", [&](grpc::ClientContext* ctx) {
        return client_.runtime().StartContainer(ctx, req, &resp);
      });
    }
    t.total = ms_since(t0);
    return t;
  }

  // kubelet's order: stop the container (grace 0: sleep as PID 1 ignores SIGTERM), stop the pod,
  // then remove both.
  StopTimes stop_pod(const Pod& pod) {
    StopTimes t;
    auto t0 = Clock::now();
    if (!pod.container_id.empty()) {
      rt::StopContainerRequest req;
      req.set_container_id(pod.container_id);
      req.set_timeout(o_.stop_timeout_s);
      rt::StopContainerResponse resp;
      t.stop_container = timed("StopContainer", [&](grpc::ClientContext* ctx) {
        return client_.runtime().StopContainer(ctx, req, &resp);
      });
    }
    {
      rt::StopPodSandboxRequest req;
      req.set_pod_sandbox_id(pod.sandbox_id);
      rt::StopPodSandboxResponse resp;
      t.stop_pod = timed("StopPodSandbox", [&](grpc::ClientContext* ctx) {
        return client_.runtime().StopPodSandbox(ctx, req, &resp);
      });
    }
    if (!pod.container_id.empty()) {
      rt::RemoveContainerRequest req;
      req.set_container_id(pod.container_id);
      rt::RemoveContainerResponse resp;
      t.remove_container = timed("RemoveContainer", [&](grpc::ClientContext* ctx) {
        return client_.runtime().RemoveContainer(ctx, req, &resp);
      });
    }
    {
      rt::RemovePodSandboxRequest req;
      req.set_pod_sandbox_id(pod.sandbox_id);
      rt::RemovePodSandboxResponse resp;
      t.remove_pod = timed("RemovePodSandbox", [&](grpc::ClientContext* ctx) {
        return client_.runtime().RemovePodSandbox(ctx, req, &resp);
      });
    }
    t.total = ms_since(t0);
    return t;
  }

  // Best effort: whatever a failed scenario left behind (our label only).
  void cleanup_leftovers() {
    rt::ListPodSandboxRequest req;
    (*req.mutable_filter()->mutable_label_selector())["vpcri-bench-run"] = o_.name;
    rt::ListPodSandboxResponse resp;
    auto ctx = client_.context();
    if (!client_.runtime().ListPodSandbox(ctx.get(), req, &resp).ok()) return;
    for (auto& s : resp.items()) {
      Pod p;
      p.sandbox_id = s.id();
      rt::ListContainersRequest lreq;
      lreq.mutable_filter()->set_pod_sandbox_id(s.id());
      rt::ListContainersResponse lresp;
      auto lctx = client_.context();
      if (client_.runtime().ListContainers(lctx.get(), lreq, &lresp).ok()) {
        for (auto& c : lresp.containers()) {
          p.container_id = c.id();  // one container per bench pod
        }
      }
      try {
        stop_pod(p);
      } catch (const std::exception& e) {
        std::cerr << "vpcri-bench: cleanup of " << s.id() << ": " << e.what() << "\n";
      }
    }
  }

  // Waits (up to 60 s) until the daemon answers Version and reports RuntimeReady: a daemon's
  // socket can exist before its CRI service is initialized (containerd's plugins start in turn).
  json version() {
    rt::VersionRequest req;
    rt::VersionResponse resp;
    auto deadline = Clock::now() + std::chrono::seconds(60);
    for (;;) {
      auto ctx = client_.context(std::chrono::seconds(5));
      grpc::Status st = client_.runtime().Version(ctx.get(), req, &resp);
      if (st.ok()) {
        rt::StatusRequest sreq;
        rt::StatusResponse sresp;
        auto sctx = client_.context(std::chrono::seconds(5));
        bool ready = false;
        if (client_.runtime().Status(sctx.get(), sreq, &sresp).ok()) {
          for (auto& c : sresp.status().conditions())
            if (c.type() == "RuntimeReady" && c.status()) ready = true;
        }
        if (ready) break;
        if (Clock::now() > deadline) break;  // measure anyway; RunPodSandbox will say what is wrong
      } else if (Clock::now() > deadline) {
        client_.check(st, "Version");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return json{{"runtime_name", resp.runtime_name()}, {"runtime_version", resp.runtime_version()},
                {"runtime_api_version", resp.runtime_api_version()}};
  }

  json pull(const std::string& ref) {
    rt::PullImageRequest req;
    req.mutable_image()->set_image(ref);
    rt::PullImageResponse resp;
    auto ctx = client_.context(std::chrono::seconds(600));
    auto t0 = Clock::now();
    client_.check(client_.images().PullImage(ctx.get(), req, &resp), "PullImage");
    return json{{"image", ref}, {"ref", resp.image_ref()}, {"ms", ms_since(t0)}};
  }

  std::string pod_name(const std::string& scenario, int i) const {
    return "bench-" + o_.name + "-" + scenario + "-" + std::to_string(i);
  }

  // Scenarios 1, 3 and 5: serial lifecycles.
  json serial() {
    for (int i = 0; i < o_.warmup; ++i) {
      Pod p;
      p.name = pod_name("warmup", i);
      start_pod(p);
      stop_pod(p);
    }
    std::vector<double> start_total, run_pod, create, start, stop_total, stop_c, stop_p, rm_c, rm_p;
    Tracked before = tracker_.sample(false);
    auto wall0 = Clock::now();
    for (int i = 0; i < o_.pods; ++i) {
      Pod p;
      p.name = pod_name("serial", i);
      StartTimes s = start_pod(p);
      StopTimes t = stop_pod(p);
      start_total.push_back(s.total);
      run_pod.push_back(s.run_pod);
      create.push_back(s.create);
      start.push_back(s.start);
      stop_total.push_back(t.total);
      stop_c.push_back(t.stop_container);
      stop_p.push_back(t.stop_pod);
      rm_c.push_back(t.remove_container);
      rm_p.push_back(t.remove_pod);
    }
    double wall_s = ms_since(wall0) / 1000.0;
    Tracked after = tracker_.sample(false);
    double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    json cpu{{"lifecycles", o_.pods}, {"wall_s", wall_s}};
    if (tracker_.enabled()) {
      // Helpers that exited in between took their CPU time with them unless reaped by the daemon;
      // the cgroup figure below has everything and is the one reported.
      double proc_s = static_cast<double>(cpu_ticks(after) - cpu_ticks(before)) / hz;
      cpu["proc_s"] = proc_s;
      cpu["proc_s_per_pod"] = proc_s / o_.pods;
      cpu["daemon_s"] = static_cast<double>(after.daemon.ticks + after.daemon.child_ticks - before.daemon.ticks -
                                            before.daemon.child_ticks) / hz;
    }
    if (before.cgroup_cpu_ns >= 0 && after.cgroup_cpu_ns >= 0) {
      double cg_s = static_cast<double>(after.cgroup_cpu_ns - before.cgroup_cpu_ns) / 1e9;
      cpu["daemon_cgroup_s"] = cg_s;
      cpu["daemon_cgroup_s_per_pod"] = cg_s / o_.pods;
      // Runtime work done inside the pods' cgroups (runc init / vpcri-init setting a container up,
      // helpers moved there) counts too; the sleeps themselves use next to nothing.
      if (before.pod_cgroup_cpu_ns >= 0 && after.pod_cgroup_cpu_ns >= 0) {
        double pod_s = static_cast<double>(after.pod_cgroup_cpu_ns - before.pod_cgroup_cpu_ns) / 1e9;
        cpu["pod_cgroup_s"] = pod_s;
        cg_s += pod_s;
      }
      cpu["cgroup_s"] = cg_s;
      cpu["cgroup_s_per_pod"] = cg_s / o_.pods;
    }
    return json{
        {"warmup", o_.warmup},
        {"start", {{"summary", summarize(start_total)}, {"histogram", histogram(start_total)},
                   {"samples_ms", start_total},
                   {"ops", {{"RunPodSandbox", summarize(run_pod)}, {"CreateContainer", summarize(create)},
                            {"StartContainer", summarize(start)}}},
                   {"ops_samples_ms", {{"RunPodSandbox", run_pod}, {"CreateContainer", create},
                                       {"StartContainer", start}}}}},
        {"teardown", {{"summary", summarize(stop_total)}, {"histogram", histogram(stop_total)},
                      {"samples_ms", stop_total},
                      {"ops", {{"StopContainer", summarize(stop_c)}, {"StopPodSandbox", summarize(stop_p)},
                               {"RemoveContainer", summarize(rm_c)}, {"RemovePodSandbox", summarize(rm_p)}}}}},
        {"cpu", cpu}};
  }

  // Starts `count` pods with `workers` threads; returns the wall time and fills `pods`.
  double start_many(const std::string& scenario, int count, int workers, std::vector<Pod>& pods,
                    std::vector<double>& latencies, std::vector<std::string>& errors) {
    pods.assign(static_cast<size_t>(count), Pod{});
    latencies.assign(static_cast<size_t>(count), -1);
    std::atomic<int> next{0};
    std::mutex mu;
    std::barrier sync(workers + 1);
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        sync.arrive_and_wait();
        for (int i; (i = next.fetch_add(1)) < count;) {
          Pod& p = pods[static_cast<size_t>(i)];
          p.name = pod_name(scenario, i);
          try {
            latencies[static_cast<size_t>(i)] = start_pod(p).total;
          } catch (const std::exception& e) {
            std::lock_guard lock(mu);
            errors.push_back(e.what());
          }
        }
      });
    }
    auto t0 = Clock::now();
    sync.arrive_and_wait();
    for (auto& t : threads) t.join();
    return ms_since(t0) / 1000.0;
  }

  double stop_many(std::vector<Pod>& pods, int workers, std::vector<double>& latencies,
                   std::vector<std::string>& errors) {
    latencies.assign(pods.size(), -1);
    std::atomic<size_t> next{0};
    std::mutex mu;
    std::barrier sync(workers + 1);
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        sync.arrive_and_wait();
        for (size_t i; (i = next.fetch_add(1)) < pods.size();) {
          if (pods[i].sandbox_id.empty()) continue;
          try {
            latencies[i] = stop_pod(pods[i]).total;
          } catch (const std::exception& e) {
            std::lock_guard lock(mu);
            errors.push_back(e.what());
          }
        }
      });
    }
    auto t0 = Clock::now();
    sync.arrive_and_wait();
    for (auto& t : threads) t.join();
    return ms_since(t0) / 1000.0;
  }

  static std::vector<double> valid(const std::vector<double>& v) {
    std::vector<double> out;
    for (double x : v)
      if (x >= 0) out.push_back(x);
    return out;
  }

  // Scenario 2.
  json concurrent(int workers) {
    int count = workers * o_.pods_per_worker;
    std::vector<Pod> pods;
    std::vector<double> start_lat, stop_lat;
    std::vector<std::string> errors;
    double start_s = start_many("c" + std::to_string(workers), count, workers, pods, start_lat, errors);
    double stop_s = stop_many(pods, workers, stop_lat, errors);
    auto ok_start = valid(start_lat), ok_stop = valid(stop_lat);
    json j{{"workers", workers},
           {"pods", count},
           {"started", ok_start.size()},
           {"start_wall_s", start_s},
           {"pods_per_s", static_cast<double>(ok_start.size()) / start_s},
           {"start", summarize(ok_start)},
           {"teardown_wall_s", stop_s},
           {"teardown_pods_per_s", static_cast<double>(ok_stop.size()) / stop_s},
           {"teardown", summarize(ok_stop)},
           {"errors", errors}};
    return j;
  }

  // Scenario 7: status, list and image RPCs with R pods running.
  json rpcs() {
    std::vector<Pod> pods;
    std::vector<double> start_lat, stop_lat;
    std::vector<std::string> errors;
    start_many("rpcs", o_.rpc_pods, 1, pods, start_lat, errors);
    std::vector<vpcri::bench::RunningPod> running;
    for (auto& p : pods)
      if (!p.container_id.empty()) running.push_back({p.sandbox_id, p.container_id});
    json out;
    try {
      vpcri::bench::RpcLatencyOptions options;
      options.image = o_.image;
      options.remove_image = o_.remove_image;
      options.calls = o_.rpc_calls;
      options.removes = o_.image_removes;
      out = vpcri::bench::measure_rpc_latency(client_, options, running);
    } catch (...) {
      stop_many(pods, 8, stop_lat, errors);
      throw;
    }
    stop_many(pods, 8, stop_lat, errors);
    out["errors"] = errors;
    return out;
  }

  // Scenarios 4 and 6: S pods running, memory, then ExecSync into them.
  json steady(json& exec_out) {
    std::vector<Pod> pods;
    std::vector<double> start_lat, stop_lat;
    std::vector<std::string> errors;
    // Started one at a time: what is measured is pods running, not how fast they came up.
    start_many("steady", o_.steady_pods, 1, pods, start_lat, errors);
    std::this_thread::sleep_for(std::chrono::milliseconds(o_.settle_ms));
    json mem = memory_steady(tracker_, 3);
    int running = static_cast<int>(valid(start_lat).size());
    mem["pods"] = running;
    mem["errors"] = errors;

    std::vector<Pod*> live;
    for (auto& p : pods)
      if (!p.container_id.empty()) live.push_back(&p);
    if (o_.exec > 0 && !live.empty()) {
      std::vector<double> lat;
      std::vector<std::string> exec_errors;
      int warm = std::min(5, o_.exec);
      for (int i = 0; i < warm + o_.exec; ++i) {
        Pod& p = *live[static_cast<size_t>(i) % live.size()];
        rt::ExecSyncRequest req;
        req.set_container_id(p.container_id);
        req.add_cmd("/bin/true");
        req.set_timeout(30);
        rt::ExecSyncResponse resp;
        auto ctx = client_.context();
        auto t0 = Clock::now();
        grpc::Status st = client_.runtime().ExecSync(ctx.get(), req, &resp);
        double ms = ms_since(t0);
        if (!st.ok() || resp.exit_code() != 0) {
          exec_errors.push_back(st.ok() ? "exit code " + std::to_string(resp.exit_code()) + ": " + resp.stderr()
                                        : "ExecSync: " + st.error_message());
          if (exec_errors.size() >= 5 && lat.empty()) break;  // not supported: do not insist
          continue;
        }
        if (i >= warm) lat.push_back(ms);
      }
      exec_out = json{{"warmup", warm}, {"summary", summarize(lat)}, {"histogram", histogram(lat)},
                      {"samples_ms", lat}, {"errors", exec_errors}};
    }
    std::vector<std::string> stop_errors;
    stop_many(pods, 8, stop_lat, stop_errors);
    mem["teardown_errors"] = stop_errors;
    return mem;
  }

  int run() {
    json out;
    out["runtime"] = o_.name;
    out["endpoint"] = o_.endpoint;
    out["image"] = o_.image;
    out["options"] = {{"pods", o_.pods}, {"warmup", o_.warmup}, {"concurrency", o_.concurrency},
                      {"pods_per_worker", o_.pods_per_worker}, {"steady_pods", o_.steady_pods},
                      {"exec", o_.exec}, {"rpc_calls", o_.rpc_calls}, {"rpc_pods", o_.rpc_pods},
                      {"image_removes", o_.image_removes}, {"remove_image", o_.remove_image}, {"helpers", o_.helpers}, {"cgroup_parent", o_.cgroup_parent},
                      {"stop_timeout_s", o_.stop_timeout_s}};
    out["loadavg_before"] = read_file("/proc/loadavg");
    int rc = 0;
    auto scenario = [&](const char* name, auto&& fn) {
      auto t0 = Clock::now();
      std::cerr << "vpcri-bench: " << o_.name << ": " << name << "...\n";
      try {
        out[name] = fn();
      } catch (const std::exception& e) {
        std::cerr << "vpcri-bench: " << o_.name << ": " << name << ": " << e.what() << "\n";
        out[name] = json{{"error", e.what()}};
        rc = 1;
        cleanup_leftovers();
      }
      std::cerr << "vpcri-bench: " << o_.name << ": " << name << " done in " << ms_since(t0) / 1000.0 << " s\n";
    };
    scenario("version", [&] { return version(); });
    scenario("pulls", [&] {
      if (rc != 0) throw std::runtime_error("not run: no CRI there");
      json pulls = json::array();
      for (auto& ref : o_.pull) pulls.push_back(pull(ref));
      pulls.push_back(pull(o_.image));
      return pulls;
    });
    if (rc != 0) {  // no CRI or no image: nothing else can work
      std::ofstream(o_.out) << out.dump(1) << "\n";
      return rc;
    }
    // Idle: the daemon has pulled, nothing runs.
    scenario("idle", [&] { return memory_steady(tracker_, 3); });
    scenario("serial", [&] { return serial(); });
    if (!o_.after_serial.empty() && std::system(o_.after_serial.c_str()) != 0) {
      std::cerr << "vpcri-bench: --after-serial command failed: " << o_.after_serial << "\n";
    }
    if (o_.rpc_calls > 0) scenario("rpcs", [&] { return rpcs(); });
    scenario("concurrency", [&] {
      json all = json::array();
      for (int c : o_.concurrency) all.push_back(concurrent(c));
      return all;
    });
    json exec_out = json{{"error", "not run"}};
    if (o_.steady_pods > 0) {
      scenario("steady", [&] { return steady(exec_out); });
      out["exec"] = exec_out;
      if (out["steady"].contains("total_rss_kb") && out["idle"].contains("total_rss_kb") &&
          out["steady"]["pods"].get<int>() > 0) {
        double added = static_cast<double>(out["steady"]["total_rss_kb"].get<long long>() -
                                           out["idle"]["total_rss_kb"].get<long long>()) /
                       out["steady"]["pods"].get<int>();
        double added_pss = static_cast<double>(out["steady"]["total_pss_kb"].get<long long>() -
                                               out["idle"]["total_pss_kb"].get<long long>()) /
                           out["steady"]["pods"].get<int>();
        out["steady"]["added_rss_kb_per_pod"] = added;
        out["steady"]["added_pss_kb_per_pod"] = added_pss;
      }
    }
    cleanup_leftovers();
    out["loadavg_after"] = read_file("/proc/loadavg");
    std::ofstream f(o_.out);
    f << out.dump(1) << "\n";
    if (!f) {
      std::cerr << "vpcri-bench: cannot write " << o_.out << "\n";
      return 1;
    }
    return rc;
  }

 private:
  Options o_;
  vpcri::ctl::Client client_;
  ProcessTracker tracker_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  try {
    return Bench(std::move(o)).run();
  } catch (const std::exception& e) {
    std::cerr << "vpcri-bench: " << e.what() << "\n";
    return 1;
  }
}

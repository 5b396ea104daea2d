// Pods and containers through the CRI socket against the real vpcrid, vpcri-monitor and
// vpcri-init, with busybox test images built by tests/fixtures/images.py and preloaded from an
// OCI archive. Every pod is removed by a guard, so a failed check leaves nothing behind.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <sstream>
#include <memory>
#include <thread>

#include "common/fs.h"
#include "tests/integration/cgroup_layout.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

void start_daemon(Daemon& d) {
  d.set_config(pods_config_yaml());
  d.start();
}

v1::PodSandboxConfig pod_config(const std::string& name, const std::string& log_dir = "") {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.set_hostname(name + "-host");
  c.set_log_directory(log_dir);
  (*c.mutable_labels())["app"] = name;
  (*c.mutable_annotations())["note"] = "annotated " + name;
  // As kubelet: POD (0) is the proto default, so a private PID namespace is always explicit.
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}




v1::ContainerConfig container_config(const std::string& name, std::vector<std::string> args) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(kTestImage);
  c.add_command("/bin/sh");
  c.add_command("-c");
  for (auto& a : args) c.add_args(a);
  c.set_log_path(name + ".log");
  (*c.mutable_labels())["container"] = name;
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}

grpc::Status create(Daemon& d, const Pod& pod, const v1::ContainerConfig& config, std::string* id) {
  return create_container(d, pod, config, id);
}

grpc::Status start(Daemon& d, const std::string& id) { return start_container(d, id); }

grpc::Status container_status(Daemon& d, const std::string& id, v1::ContainerStatusResponse* resp,
                              bool verbose = false) {
  v1::ContainerStatusRequest req;
  req.set_container_id(id);
  req.set_verbose(verbose);
  return d.runtime().ContainerStatus(context().get(), req, resp);
}

v1::ContainerStatus status_of(Daemon& d, const std::string& id) {
  v1::ContainerStatusResponse resp;
  grpc::Status s = container_status(d, id, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp.status();
}

v1::ContainerStatus wait_exited(Daemon& d, const std::string& id, std::chrono::seconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto st = status_of(d, id);
    if (st.state() == v1::CONTAINER_EXITED || std::chrono::steady_clock::now() > deadline) return st;
    std::this_thread::sleep_for(100ms);
  }
}

grpc::Status stop(Daemon& d, const std::string& id, int64_t timeout) {
  v1::StopContainerRequest req;
  req.set_container_id(id);
  req.set_timeout(timeout);
  v1::StopContainerResponse resp;
  return d.runtime().StopContainer(context(120s).get(), req, &resp);
}

grpc::Status remove(Daemon& d, const std::string& id) {
  v1::RemoveContainerRequest req;
  req.set_container_id(id);
  v1::RemoveContainerResponse resp;
  return d.runtime().RemoveContainer(context(60s).get(), req, &resp);
}


std::vector<v1::Container> list_containers(Daemon& d, const v1::ContainerFilter& filter) {
  v1::ListContainersRequest req;
  *req.mutable_filter() = filter;
  v1::ListContainersResponse resp;
  grpc::Status s = d.runtime().ListContainers(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return {resp.containers().begin(), resp.containers().end()};
}

std::vector<v1::PodSandbox> list_pods(Daemon& d, const v1::PodSandboxFilter& filter) {
  v1::ListPodSandboxRequest req;
  *req.mutable_filter() = filter;
  v1::ListPodSandboxResponse resp;
  grpc::Status s = d.runtime().ListPodSandbox(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return {resp.items().begin(), resp.items().end()};
}


std::string read(const std::string& path) {
  try {
    return vpcri::fs::read_file(path);
  } catch (const std::exception&) {
    return "";
  }
}

// Waits until the file holds `needle` (the monitor writes the log asynchronously).
bool wait_for_text(const std::string& path, const std::string& needle, std::chrono::seconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (read(path).find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// Mount points under `dir` in our mount namespace.
std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  std::istringstream in(read("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string a, b, c, root, mount_point;
    fields >> a >> b >> c >> root >> mount_point;
    if (mount_point.rfind(dir, 0) == 0) out.push_back(mount_point);
  }
  return out;
}

std::string verbose_info(Daemon& d, const std::string& id) {
  v1::ContainerStatusResponse resp;
  REQUIRE(container_status(d, id, &resp, true).ok());
  return resp.info().at("info");
}

std::string json_field(const std::string& json, const std::string& key) {
  auto pos = json.find("\"" + key + "\":");
  if (pos == std::string::npos) return "";
  pos += key.size() + 3;
  auto end = json.find_first_of(",}", pos);
  std::string v = json.substr(pos, end - pos);
  if (!v.empty() && v.front() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

}  // namespace

TEST_CASE("a container's life: log, exit codes and reasons, statuses, lists, names, idempotence") {
  Daemon d;
  start_daemon(d);
  TempDir logs;
  Pod pod(d, pod_config("life", logs.path()));

  auto ps = pod_status(d, pod.id());
  CHECK(ps.status().state() == v1::SANDBOX_READY);
  CHECK(ps.status().id() == pod.id());
  CHECK(ps.status().id().size() == 64);
  CHECK(ps.status().created_at() > 0);
  CHECK(ps.status().labels().at("app") == "life");
  CHECK(ps.status().annotations().at("note") == "annotated life");
  CHECK(ps.status().metadata().name() == "life");
  CHECK(std::stoi(json_field(ps.info().at("info"), "pid")) > 0);

  std::string hello = run_container(d, pod, container_config("hello", {"echo hello"}));
  auto st = wait_exited(d, hello);
  CHECK(st.state() == v1::CONTAINER_EXITED);
  CHECK(st.exit_code() == 0);
  CHECK(st.reason() == "Completed");
  CHECK(st.created_at() > 0);
  CHECK(st.started_at() >= st.created_at());
  CHECK(st.finished_at() >= st.started_at());
  CHECK(st.image().image() == kTestImage);
  CHECK(st.image_ref().rfind("sha256:", 0) == 0);
  CHECK(st.labels().at("container") == "hello");
  CHECK(st.log_path() == logs.path() + "/hello.log");
  CHECK(wait_for_text(logs.path() + "/hello.log", " stdout F hello\n"));

  std::string fail = run_container(d, pod, container_config("fail", {"echo oops >&2; exit 3"}));
  st = wait_exited(d, fail);
  CHECK(st.exit_code() == 3);
  CHECK(st.reason() == "Error");
  CHECK(wait_for_text(logs.path() + "/fail.log", " stderr F oops\n"));

  std::string sleeper;
  REQUIRE(create(d, pod, container_config("sleeper", {"sleep 1000"}), &sleeper).ok());
  CHECK(status_of(d, sleeper).state() == v1::CONTAINER_CREATED);
  // Names are unique per pod and attempt.
  std::string dup;
  grpc::Status s = create(d, pod, container_config("sleeper", {"true"}), &dup);
  CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(s.error_message().find(sleeper) != std::string::npos);
  REQUIRE(start(d, sleeper.substr(0, 12)).ok());  // a unique prefix is enough
  CHECK(status_of(d, sleeper).state() == v1::CONTAINER_RUNNING);
  CHECK(start(d, sleeper).error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  // Filters.
  v1::ContainerFilter f;
  CHECK(list_containers(d, f).size() == 3);
  f.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  auto running = list_containers(d, f);
  REQUIRE(running.size() == 1);
  CHECK(running[0].id() == sleeper);
  CHECK(running[0].pod_sandbox_id() == pod.id());
  f.Clear();
  f.set_id(hello.substr(0, 10));
  REQUIRE(list_containers(d, f).size() == 1);
  f.Clear();
  (*f.mutable_label_selector())["container"] = "fail";
  REQUIRE(list_containers(d, f).size() == 1);
  CHECK(list_containers(d, f)[0].id() == fail);
  f.Clear();
  f.set_pod_sandbox_id(pod.id());
  CHECK(list_containers(d, f).size() == 3);
  f.set_pod_sandbox_id("nonexistent");
  CHECK(list_containers(d, f).empty());

  v1::PodSandboxFilter pf;
  CHECK(list_pods(d, pf).size() == 1);
  (*pf.mutable_label_selector())["app"] = "other";
  CHECK(list_pods(d, pf).empty());
  pf.Clear();
  pf.mutable_state()->set_state(v1::SANDBOX_READY);
  CHECK(list_pods(d, pf).size() == 1);
  pf.set_id(pod.id().substr(0, 8));
  CHECK(list_pods(d, pf).size() == 1);

  // Pod names are unique per (name, namespace, uid, attempt).
  std::string other;
  s = run_pod(d, pod.config(), &other);
  CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(s.error_message().find(pod.id()) != std::string::npos);

  // Unknown ids.
  v1::ContainerStatusResponse csr;
  CHECK(container_status(d, "f00d", &csr).error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(start(d, "f00d").error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(stop(d, "f00d", 0).ok());
  CHECK(remove(d, "f00d").ok());
  CHECK(remove_pod(d, "f00d").ok());
  // An empty id is refused.
  CHECK(container_status(d, "", &csr).error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  // Stop and remove are idempotent.
  CHECK(stop(d, sleeper, 0).ok());
  st = status_of(d, sleeper);
  CHECK(st.state() == v1::CONTAINER_EXITED);
  CHECK(st.exit_code() == 137);
  CHECK(stop(d, sleeper, 0).ok());
  CHECK(remove(d, sleeper).ok());
  CHECK(remove(d, sleeper).ok());
  CHECK(container_status(d, sleeper, &csr).error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(stdfs::exists(logs.path() + "/hello.log"));

  v1::StopPodSandboxRequest spr;
  spr.set_pod_sandbox_id(pod.id());
  v1::StopPodSandboxResponse sresp;
  CHECK(d.runtime().StopPodSandbox(context(60s).get(), spr, &sresp).ok());
  CHECK(pod_status(d, pod.id()).status().state() == v1::SANDBOX_NOTREADY);
  CHECK(d.runtime().StopPodSandbox(context(60s).get(), spr, &sresp).ok());
}

TEST_CASE("StopContainer: SIGTERM ignored, SIGKILL after the timeout") {
  Daemon d;
  start_daemon(d);
  Pod pod(d, pod_config("stopper"));
  std::string id = run_container(d, pod, container_config("stubborn", {"trap '' TERM; while true; do sleep 1; done"}));
  std::this_thread::sleep_for(300ms);  // let the shell install its trap
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(stop(d, id, 2).ok());
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 2s);
  CHECK(took < 10s);
  auto st = status_of(d, id);
  CHECK(st.state() == v1::CONTAINER_EXITED);
  CHECK(st.exit_code() == 137);
}

TEST_CASE("ExecSync, shared pod namespaces, resources, log reopen, stats") {
  Daemon d;
  start_daemon(d);
  TempDir logs;
  Pod pod(d, pod_config("ns", logs.path()));
  Pod pod2(d, pod_config("ns2"));
  std::string a = run_container(d, pod, container_config("a", {"echo started; exec sleep 1000"}));
  std::string b = run_container(d, pod, container_config("b", {"exec sleep 1000"}));
  std::string c = run_container(d, pod2, container_config("c", {"exec sleep 1000"}));

  SUBCASE("exec") {
    ExecResult e = exec(d, a, {"echo", "hi"});
    REQUIRE_MESSAGE(e.status.ok(), e.status.error_message());
    CHECK(e.resp.stdout() == "hi\n");
    CHECK(e.resp.exit_code() == 0);
    e = exec(d, a, {"/bin/sh", "-c", "echo err >&2; exit 7"});
    REQUIRE(e.status.ok());
    CHECK(e.resp.stderr() == "err\n");
    CHECK(e.resp.exit_code() == 7);
    auto t0 = std::chrono::steady_clock::now();
    e = exec(d, a, {"sleep", "30"}, 1);
    CHECK(e.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    CHECK(exec(d, "f00d", {"true"}).status.error_code() == grpc::StatusCode::NOT_FOUND);
  }

  SUBCASE("pod namespaces") {
    CHECK(sh_output(d, a, "hostname") == "ns-host\n");
    CHECK(sh_output(d, b, "hostname") == "ns-host\n");
    CHECK(sh_output(d, c, "hostname") == "ns2-host\n");
    CHECK(sh_output(d, a, "readlink /proc/self/ns/net") == sh_output(d, b, "readlink /proc/self/ns/net"));
    CHECK(sh_output(d, a, "readlink /proc/self/ns/net") != sh_output(d, c, "readlink /proc/self/ns/net"));
    CHECK(sh_output(d, a, "readlink /proc/self/ns/ipc") == sh_output(d, b, "readlink /proc/self/ns/ipc"));
    CHECK(sh_output(d, a, "readlink /proc/self/ns/ipc") != sh_output(d, c, "readlink /proc/self/ns/ipc"));
    CHECK(sh_output(d, a, "cat /etc/hosts").find("ns-host") != std::string::npos);
    CHECK(sh_output(d, a, "ip -o link show lo").find("UP") != std::string::npos);
    // Containers do not share a PID namespace by default: each one's process is pid 1.
    CHECK(sh_output(d, a, "cat /proc/1/cmdline | tr '\\0' ' '") == "sleep 1000 ");
  }

  SUBCASE("security defaults") {
    // containerd's default capability set.
    CHECK(sh_output(d, a, "grep CapEff /proc/self/status") == "CapEff:\t00000000a80425fb\n");
    CHECK(sh_output(d, a, "grep NoNewPrivs /proc/self/status") == "NoNewPrivs:\t0\n");
    CHECK(sh_output(d, a, "cat /proc/timer_list | wc -c") == "0\n");  // masked
  }

  SUBCASE("resources") {
    const std::string cgroup = json_field(verbose_info(d, a), "cgroup");
    REQUIRE(!cgroup.empty());
    v1::UpdateContainerResourcesRequest req;
    req.set_container_id(a);
    req.mutable_linux()->set_memory_limit_in_bytes(64 << 20);
    v1::UpdateContainerResourcesResponse resp;
    grpc::Status s = d.runtime().UpdateContainerResources(context().get(), req, &resp);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    CHECK(read(memory_cgroup_dir(cgroup) + "/" + memory_limit_file()) == std::to_string(64 << 20) + "\n");
    CHECK(status_of(d, a).resources().linux().memory_limit_in_bytes() == 64 << 20);
  }

  SUBCASE("log reopen") {
    const std::string log = logs.path() + "/a.log";
    REQUIRE(wait_for_text(log, "stdout F started\n"));
    REQUIRE(::rename(log.c_str(), (log + ".1").c_str()) == 0);
    v1::ReopenContainerLogRequest req;
    req.set_container_id(a);
    v1::ReopenContainerLogResponse resp;
    grpc::Status s = d.runtime().ReopenContainerLog(context().get(), req, &resp);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    CHECK(stdfs::exists(log));
  }

  SUBCASE("stats") {
    sh_output(d, a, "dd if=/dev/zero of=/tmp/fill bs=1k count=64 2>/dev/null");
    v1::ContainerStatsRequest req;
    req.set_container_id(a);
    v1::ContainerStatsResponse resp;
    grpc::Status s = d.runtime().ContainerStats(context().get(), req, &resp);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    CHECK(resp.stats().attributes().id() == a);
    CHECK(resp.stats().cpu().usage_core_nano_seconds().value() > 0);
    CHECK(resp.stats().memory().working_set_bytes().value() > 0);
    CHECK(resp.stats().writable_layer().used_bytes().value() >= 64 * 1024);
    v1::ListContainerStatsRequest lreq;
    lreq.mutable_filter()->set_pod_sandbox_id(pod.id());
    v1::ListContainerStatsResponse lresp;
    REQUIRE(d.runtime().ListContainerStats(context().get(), lreq, &lresp).ok());
    CHECK(lresp.stats_size() == 2);
    v1::PodSandboxStatsRequest preq;
    preq.set_pod_sandbox_id(pod.id());
    v1::PodSandboxStatsResponse presp;
    s = d.runtime().PodSandboxStats(context().get(), preq, &presp);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    CHECK(presp.stats().linux().cpu().usage_core_nano_seconds().value() > 0);
    CHECK(presp.stats().linux().containers_size() == 2);
    v1::ListPodSandboxStatsRequest lpreq;
    v1::ListPodSandboxStatsResponse lpresp;
    REQUIRE(d.runtime().ListPodSandboxStats(context().get(), lpreq, &lpresp).ok());
    CHECK(lpresp.stats_size() == 2);
  }
}

TEST_CASE("shareProcessNamespace: pause is pid 1") {
  Daemon d;
  start_daemon(d);
  auto config = pod_config("shared");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::POD);
  Pod pod(d, config);
  auto cc = container_config("x", {"exec sleep 1000"});
  cc.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::POD);
  std::string id = run_container(d, pod, cc);
  CHECK(sh_output(d, id, "cat /proc/1/cmdline | tr '\\0' ' '") == "/pause ");
}

namespace {

// The "Name:\tvalue" line of /proc/<pid>/status.
std::string proc_status_field(const std::string& pid, const std::string& name) {
  std::istringstream in(vpcri::fs::read_file("/proc/" + pid + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + ":", 0) == 0) return line.substr(line.find_first_not_of(" \t", name.size() + 1));
  }
  return "";
}

bool monitor_runs_for(const std::string& dir) {
  for (const auto& proc : stdfs::directory_iterator("/proc")) {
    std::string cmdline;
    try {
      cmdline = vpcri::fs::read_file(proc.path().string() + "/cmdline");
    } catch (const std::exception&) {
      continue;
    }
    if (cmdline.find("vpcri-monitor") != std::string::npos && cmdline.find(dir) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("pause runs without a monitor: empty read-only root, no privileges, read-only binary, pod sysctls") {
  Daemon d;
  start_daemon(d);
  auto config = pod_config("bare");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::POD);
  (*config.mutable_linux()->mutable_sysctls())["kernel.shm_rmid_forced"] = "1";
  (*config.mutable_linux()->mutable_sysctls())["net.ipv4.ip_unprivileged_port_start"] = "80";
  Pod pod(d, config);
  const std::string pid = json_field(pod_status(d, pod.id()).info().at("info"), "pid");
  REQUIRE(stdfs::exists("/proc/" + pid));
  const std::string pod_state = d.state() + "/pods/" + pod.id();
  CHECK_FALSE(monitor_runs_for(pod_state));
  CHECK_FALSE(stdfs::exists(pod_state + "/pause"));   // no monitor state
  CHECK_FALSE(stdfs::exists(pod_state + "/rootfs"));  // no image rootfs
  CHECK(vpcri::fs::read_file("/proc/" + pid + "/cmdline") == std::string("/pause") + '\0');
  // Its own PID namespace, where it is pid 1.
  const std::string nspid = proc_status_field(pid, "NSpid");
  CHECK(nspid.size() > 2);
  CHECK(nspid.substr(nspid.size() - 2) == "\t1");
  // No capability in any set, no_new_privs, and the pod cgroup.
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    CAPTURE(set);
    CHECK(proc_status_field(pid, set) == "0000000000000000");
  }
  CHECK(proc_status_field(pid, "NoNewPrivs") == "1");
  // The pod cgroup in every controller hierarchy and in cgroup2 (v1 ones are joined through
  // `tasks`, cgroup2 by clone3 into it); named v1 hierarchies (name=systemd) are not vpcri's.
  std::istringstream cgroups(vpcri::fs::read_file("/proc/" + pid + "/cgroup"));
  int in_pod_cgroup = 0;
  for (std::string line; std::getline(cgroups, line);) {
    CAPTURE(line);
    if (line.find(":name=") != std::string::npos) continue;
    CHECK(line.ends_with("/" + pod.id()));
    ++in_pod_cgroup;
  }
  CHECK(in_pod_cgroup >= 1);
  CHECK(in_pod_cgroup + 1 >= static_cast<int>(cgroup_hierarchies().size()));  // all but name=systemd
  // Its root: empty, read-only. Its binary: on a read-only mount, even for the host's root.
  std::error_code ec;
  CHECK(stdfs::directory_iterator("/proc/" + pid + "/root", ec) == stdfs::directory_iterator());
  CHECK_FALSE(ec);
  CHECK(::mkdir(("/proc/" + pid + "/root/x").c_str(), 0755) != 0);
  CHECK(errno == EROFS);
  CHECK(::open(("/proc/" + pid + "/exe").c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC) < 0);
  CHECK(errno == EROFS);

  // A container sharing pause's PID namespace cannot touch pause (non-dumpable, read-only) and
  // sees the pod's sysctls, which pause's start wrote in the pod's namespaces.
  auto cc = container_config("neighbour", {"exec sleep 1000"});
  cc.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::POD);
  const std::string id = run_container(d, pod, cc);
  CHECK(sh_output(d, id, "cat /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ip_unprivileged_port_start") ==
        "1\n80\n");
  const std::string pause_binary = binary("VPCRI_PAUSE");
  const std::string before = vpcri::fs::read_file(pause_binary);
  CHECK(sh_output(d, id, "echo x > /proc/1/exe && echo written; ls /proc/1/root/ 2>/dev/null && echo listed; "
                         "cat /proc/1/environ 2>/dev/null && echo read; echo done") == "done\n");
  CHECK(vpcri::fs::read_file(pause_binary) == before);
}

TEST_CASE("a pod whose pause ends is NOTREADY, also when it ended while vpcrid was down") {
  Daemon d;
  start_daemon(d);
  Pod live(d, pod_config("live")), killed(d, pod_config("killed")), downtime(d, pod_config("downtime"));
  auto pause_pid = [&](const Pod& pod) {
    return std::stoi(json_field(pod_status(d, pod.id()).info().at("info"), "pid"));
  };
  REQUIRE(::kill(pause_pid(killed), SIGKILL) == 0);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (pod_status(d, killed.id()).status().state() != v1::SANDBOX_NOTREADY &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(pod_status(d, killed.id()).status().state() == v1::SANDBOX_NOTREADY);

  const int live_pid = pause_pid(live);
  const int downtime_pid = pause_pid(downtime);
  CHECK(d.stop(SIGKILL) == -SIGKILL);
  REQUIRE(::kill(downtime_pid, SIGKILL) == 0);
  std::this_thread::sleep_for(200ms);
  start_daemon(d);
  CHECK(pod_status(d, downtime.id()).status().state() == v1::SANDBOX_NOTREADY);
  // The live one is found again by pid + start time, and still watched: its end is seen too.
  CHECK(pod_status(d, live.id()).status().state() == v1::SANDBOX_READY);
  CHECK(pause_pid(live) == live_pid);
  REQUIRE(::kill(live_pid, SIGKILL) == 0);
  deadline = std::chrono::steady_clock::now() + 10s;
  while (pod_status(d, live.id()).status().state() != v1::SANDBOX_NOTREADY &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(pod_status(d, live.id()).status().state() == v1::SANDBOX_NOTREADY);
}

TEST_CASE("security: sysctl injection is refused, RuntimeDefault seccomp blocks unshare") {
  Daemon d;
  start_daemon(d);
  auto config = pod_config("evil");
  (*config.mutable_linux()->mutable_sysctls())["kernel.shm_rmid_forced"] = "1+kernel.core_pattern=|/tmp/x";
  std::string id;
  grpc::Status s = run_pod(d, config, &id);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("kernel.shm_rmid_forced") != std::string::npos);
  config.mutable_linux()->mutable_sysctls()->clear();
  (*config.mutable_linux()->mutable_sysctls())["kernel.core_pattern"] = "core";
  CHECK(run_pod(d, config, &id).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(list_pods(d, {}).empty());
  // A value the kernel refuses fails pause's setup step, which names it; no pod is left.
  config.mutable_linux()->mutable_sysctls()->clear();
  (*config.mutable_linux()->mutable_sysctls())["kernel.shm_rmid_forced"] = "not-a-number";
  s = run_pod(d, config, &id);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_MESSAGE(s.error_message().find("starting pause: write a pod sysctl") != std::string::npos, s.error_message());
  CHECK(list_pods(d, {}).empty());

  Pod pod(d, pod_config("confined"));
  auto cc = container_config("confined", {"exec sleep 1000"});
  cc.mutable_linux()->mutable_security_context()->mutable_seccomp()->set_profile_type(
      v1::SecurityProfile::RuntimeDefault);
  std::string c = run_container(d, pod, cc);
  CHECK(sh_output(d, c, "grep Seccomp: /proc/self/status") == "Seccomp:\t2\n");
  // A user namespace needs no capability: only the seccomp profile stands in the way.
  ExecResult e = exec(d, c, {"/bin/sh", "-c", "unshare -U true"});
  REQUIRE(e.status.ok());
  CHECK(e.resp.exit_code() != 0);
  // Without a profile (the CRI default) the same works.
  std::string o = run_container(d, pod, container_config("open", {"exec sleep 1000"}));
  CHECK(sh_output(d, o, "grep Seccomp: /proc/self/status") == "Seccomp:\t0\n");
  e = exec(d, o, {"/bin/sh", "-c", "unshare -U true"});
  REQUIRE(e.status.ok());
  CHECK_MESSAGE(e.resp.exit_code() == 0, e.resp.stderr());
}

TEST_CASE("OOMKilled") {
  Daemon d;
  start_daemon(d);
  Pod pod(d, pod_config("oom"));
  auto cc = container_config("hog", {"x=0123456789abcdef; while true; do x=$x$x; done"});
  cc.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(16 << 20);
  std::string id = run_container(d, pod, cc);
  auto st = wait_exited(d, id, 60s);
  CHECK(st.state() == v1::CONTAINER_EXITED);
  CHECK(st.reason() == "OOMKilled");
  CHECK(st.exit_code() == 137);
}

TEST_CASE("vpcrid killed and restarted: containers keep running, exits are not lost, removal leaves nothing") {
  Daemon d;
  start_daemon(d);
  std::string runner, quitter;
  // Removed at the end by the test itself; this guard only covers a failed check.
  struct Guard {
    Daemon& d;
    std::string id;
    ~Guard() {
      if (d.running() && !id.empty()) remove_pod(d, id);
    }
  } guard{d, ""};
  REQUIRE(run_pod(d, pod_config("survivor"), &guard.id).ok());
  const std::string pod_id = guard.id;
  std::string sandbox_cgroup, runner_cgroup;
  {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id);
    *req.mutable_config() = container_config("runner", {"exec sleep 1000"});
    req.mutable_config()->clear_log_path();
    v1::CreateContainerResponse resp;
    REQUIRE(d.runtime().CreateContainer(context(60s).get(), req, &resp).ok());
    runner = resp.container_id();
    REQUIRE(start(d, runner).ok());
    *req.mutable_config() = container_config("quitter", {"sleep 3; exit 5"});
    req.mutable_config()->clear_log_path();
    REQUIRE(d.runtime().CreateContainer(context(60s).get(), req, &resp).ok());
    quitter = resp.container_id();
    REQUIRE(start(d, quitter).ok());
  }
  runner_cgroup = json_field(verbose_info(d, runner), "cgroup");
  const std::string pause_pid = json_field(pod_status(d, pod_id).info().at("info"), "pid");
  const std::string runner_pid = json_field(verbose_info(d, runner), "pid");

  CHECK(d.stop(SIGKILL) == -SIGKILL);
  std::this_thread::sleep_for(4s);  // the quitter exits while vpcrid is down
  start_daemon(d);

  auto st = status_of(d, runner);
  CHECK(st.state() == v1::CONTAINER_RUNNING);
  CHECK(sh_output(d, runner, "echo alive") == "alive\n");
  st = wait_exited(d, quitter, 5s);
  CHECK(st.state() == v1::CONTAINER_EXITED);
  CHECK(st.exit_code() == 5);
  CHECK(st.finished_at() > st.started_at());
  CHECK(pod_status(d, pod_id).status().state() == v1::SANDBOX_READY);

  REQUIRE(remove_pod(d, pod_id).ok());
  CHECK(list_pods(d, {}).empty());
  CHECK(list_containers(d, {}).empty());
  CHECK(mounts_under(d.dir()).empty());
  CHECK_FALSE(stdfs::exists(memory_cgroup_dir(runner_cgroup)));
  // pause is not vpcrid's child: once killed, it may stay a zombie until init has reaped it.
  CHECK_FALSE(process_runs(std::stoi(pause_pid)));
  CHECK_FALSE(stdfs::exists("/proc/" + runner_pid));
  CHECK_FALSE(stdfs::exists(d.state() + "/pods/" + pod_id));
  CHECK_FALSE(stdfs::exists(d.root() + "/pods/" + pod_id));
  CHECK(stdfs::is_empty(d.root() + "/containers"));
  // The removed directories were moved to the trash, which a background thread empties.
  auto trash_empty = [&] { return stdfs::is_empty(d.root() + "/trash") && stdfs::is_empty(d.state() + "/trash"); };
  for (int i = 0; i < 100 && !trash_empty(); ++i) std::this_thread::sleep_for(100ms);
  CHECK(trash_empty());
}

namespace {

// Removes the given cgroups (deepest first) in every hierarchy however the test ends.
struct CgroupCleanup {
  std::vector<std::string> paths;
  ~CgroupCleanup() {
    for (auto it = paths.rbegin(); it != paths.rend(); ++it)
      for (const std::string& h : cgroup_hierarchies()) ::rmdir((h + *it).c_str());
  }
};

}  // namespace

TEST_CASE("a cgroup_parent vpcri had to make goes with its last pod; one that existed stays; odd names are refused") {
  Daemon d;
  start_daemon(d);
  const std::string suffix = std::to_string(::getpid());
  const std::string made_top = "/vpcri-test-made-" + suffix, made = made_top + "/burstable";
  const std::string existing = "/vpcri-test-existing-" + suffix;
  CgroupCleanup cleanup{{made_top, made, existing}};

  auto with_parent = [](const std::string& name, const std::string& parent) {
    v1::PodSandboxConfig c = pod_config(name);
    c.mutable_linux()->set_cgroup_parent(parent);
    return c;
  };
  auto remove = [&](Pod& pod) {
    CHECK(stop_pod(d, pod.id()).ok());
    CHECK(remove_pod(d, pod.id()).ok());
    pod.forget();
  };

  // Two pods under a parent that did not exist: it stays while either lives.
  Pod first(d, with_parent("first", made));
  Pod second(d, with_parent("second", made));
  CHECK(cgroup_anywhere(made + "/" + first.id()));
  remove(first);
  CHECK(cgroup_anywhere(made + "/" + second.id()));
  remove(second);
  CHECK_FALSE(cgroup_anywhere(made));
  CHECK_FALSE(cgroup_anywhere(made_top));

  // A parent that existed (kubelet makes its own) is left as it was.
  for (const std::string& h : cgroup_hierarchies()) REQUIRE(::mkdir((h + existing).c_str(), 0755) == 0);
  Pod kept(d, with_parent("kept", existing));
  remove(kept);
  CHECK(std::filesystem::exists(memory_cgroup_dir(existing)));

  // Names kubelet's cgroupfs driver never makes are refused before anything is created.
  for (const std::string odd : {"/vpcri-test-fuzz.slice:cri:x", "/vpcri-test-caf\xc3\xa9", "/vpcri test"}) {
    CAPTURE(odd);
    std::string id;
    grpc::Status s = run_pod(d, with_parent("odd", odd), &id);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find("cgroup") != std::string::npos);
    CHECK_FALSE(cgroup_anywhere(odd));
  }
}

// Request validation and ExecSync containment through the CRI socket against the real vpcrid
// (docs/security.md): the default hostname, refused hostnames that leave nothing
// behind, user ids, request bounds, and ExecSync's timeout, cancellation, concurrency cap and
// output limit. Every pod is removed by a guard, so a failed check leaves nothing behind.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
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

std::string node_hostname() {
  char name[256] = {};
  REQUIRE(::gethostname(name, sizeof name - 1) == 0);
  return name;
}

v1::PodSandboxConfig pod_config(const std::string& name, v1::NamespaceMode pid = v1::CONTAINER) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("uid-" + name.substr(0, 40));
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(pid);
  return c;
}

v1::ContainerConfig container_config(const std::string& name, const std::string& script,
                                     v1::NamespaceMode pid = v1::CONTAINER) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(kTestImage);
  c.add_command("/bin/sh");
  c.add_command("-c");
  c.add_args(script);
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(pid);
  return c;
}

grpc::Status create(Daemon& d, const Pod& pod, const v1::ContainerConfig& config, std::string* id) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod.id());
  *req.mutable_config() = config;
  *req.mutable_sandbox_config() = pod.config();
  v1::CreateContainerResponse resp;
  grpc::Status s = d.runtime().CreateContainer(context(60s).get(), req, &resp);
  *id = resp.container_id();
  return s;
}

grpc::Status start(Daemon& d, const std::string& id) {
  v1::StartContainerRequest req;
  req.set_container_id(id);
  v1::StartContainerResponse resp;
  return d.runtime().StartContainer(context(60s).get(), req, &resp);
}

size_t count_pods(Daemon& d) {
  v1::ListPodSandboxResponse resp;
  REQUIRE(d.runtime().ListPodSandbox(context().get(), v1::ListPodSandboxRequest(), &resp).ok());
  return static_cast<size_t>(resp.items_size());
}

size_t count_containers(Daemon& d) {
  v1::ListContainersResponse resp;
  REQUIRE(d.runtime().ListContainers(context().get(), v1::ListContainersRequest(), &resp).ok());
  return static_cast<size_t>(resp.containers_size());
}

size_t entries(const std::string& dir) {
  if (!stdfs::exists(dir)) return 0;
  return static_cast<size_t>(std::distance(stdfs::directory_iterator(dir), stdfs::directory_iterator()));
}

// The live processes the container sees other than pid 1 and this probe's own sh and awk,
// "pid state name" per line. Zombies (state Z) are dead already: pid 1 has yet to reap them.
std::string other_processes(Daemon& d, const std::string& id) {
  return sh_output(d, id,
                   "for s in /proc/[0-9]*/status; do awk '/^Name:/ {n = $2} /^State:/ {st = $2} /^Pid:/ {p = $2} "
                   "END {print p, st, n}' $s 2>/dev/null; done | "
                   "awk '$1 != 1 && $2 != \"Z\" && $3 != \"sh\" && $3 != \"awk\"'");
}

std::string memory_cgroup_of(Daemon& d, const std::string& id) {
  return memory_cgroup_dir(container_cgroup_path(d, id));
}

void start_daemon(Daemon& d, const std::string& extra_yaml = "") {
  d.set_config(pods_config_yaml() + extra_yaml);
  d.start();
}

}  // namespace

TEST_CASE("hostname: the node's when none is given, validated when given, nothing left behind") {
  Daemon d;
  start_daemon(d);
  const std::string node = node_hostname();

  SUBCASE("no hostname, a pod name longer than a hostname may be") {
    Pod pod(d, pod_config(std::string(100, 'p')));
    std::string c = run_container(d, pod, container_config("c", "exec sleep 1000"));
    CHECK(sh_output(d, c, "hostname") == node + "\n");
    CHECK(sh_output(d, c, "cat /etc/hostname") == node + "\n");
    CHECK(sh_output(d, c, "awk -v h=\"$(hostname)\" '$2 == h' /etc/hosts") == "127.0.1.1\t" + node + "\n");
    CHECK(sh_output(d, c, "echo $HOSTNAME") == node + "\n");
  }

  SUBCASE("host network: the node's too") {
    auto config = pod_config("hostnet");
    config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
    Pod pod(d, config);
    std::string c = run_container(d, pod, container_config("c", "exec sleep 1000"));
    CHECK(sh_output(d, c, "cat /etc/hostname") == node + "\n");
  }

  SUBCASE("a valid hostname is kept") {
    auto config = pod_config("named");
    config.set_hostname("web-0.example");
    Pod pod(d, config);
    std::string c = run_container(d, pod, container_config("c", "exec sleep 1000"));
    CHECK(sh_output(d, c, "hostname; cat /etc/hostname") == "web-0.example\nweb-0.example\n");
  }

  SUBCASE("invalid hostnames are refused before anything is written") {
    for (const std::string& bad : {std::string(65, 'a'), std::string("Web_0"), std::string("web\nnameserver 6.6.6.6"),
                                   std::string("-web"), std::string("a b")}) {
      auto config = pod_config("bad");
      config.set_hostname(bad);
      std::string id;
      grpc::Status s = run_pod(d, config, &id);
      CHECK_MESSAGE(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT, bad);
      CHECK(s.error_message().find("hostname") != std::string::npos);
    }
    CHECK(count_pods(d) == 0);
    CHECK(entries(d.state() + "/pods") == 0);
    CHECK(entries(d.root() + "/pods") == 0);
  }
}

TEST_CASE("security: user ids must fit a uid_t; run_as_group needs a user") {
  Daemon d;
  start_daemon(d);
  Pod pod(d, pod_config("ids"));

  // 2^32 used to be truncated to uid 0: a pod that asks for a non-zero uid ran as root.
  auto config = container_config("wrap", "exec sleep 1000");
  config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(int64_t{1} << 32);
  std::string id;
  grpc::Status s = create(d, pod, config, &id);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("run_as_user 4294967296 is out of range") != std::string::npos);

  config = container_config("neg", "exec sleep 1000");
  config.mutable_linux()->mutable_security_context()->add_supplemental_groups(-1);
  s = create(d, pod, config, &id);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("supplemental_groups -1") != std::string::npos);

  config = container_config("group", "exec sleep 1000");
  config.mutable_linux()->mutable_security_context()->mutable_run_as_group()->set_value(1000);
  s = create(d, pod, config, &id);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("run_as_group is set without run_as_user or run_as_username") != std::string::npos);
  CHECK(count_containers(d) == 0);
  // The failure is logged with the pod's Kubernetes name and the container's, not only ids.
  const auto& meta = pod.config().metadata();
  CHECK(d.log().find("method=/runtime.v1.RuntimeService/CreateContainer code=3 error=") != std::string::npos);
  CHECK(d.log().find("pod=" + meta.namespace_() + "/" + meta.name() + " container=group") != std::string::npos);

  auto bad_pod = pod_config("badpod");
  bad_pod.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(-1);
  s = run_pod(d, bad_pod, &id);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(count_pods(d) == 1);

  config = container_config("ok", "exec sleep 1000");
  config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(4294967294);
  config.mutable_linux()->mutable_security_context()->mutable_run_as_group()->set_value(1234);
  std::string c = run_container(d, pod, config);
  CHECK(sh_output(d, c, "id -u; id -g") == "4294967294\n1234\n");
}

TEST_CASE("security: request bounds") {
  Daemon d;
  start_daemon(d);
  Pod pod(d, pod_config("bounds"));

  SUBCASE("100,000 environment variables are answered at once") {
    auto config = container_config("env", "exec sleep 1000");
    for (int i = 0; i < 100000; ++i) {
      auto* kv = config.add_envs();
      kv->set_key("VAR_" + std::to_string(i));
      kv->set_value(std::to_string(i));
    }
    std::string id;
    auto t0 = std::chrono::steady_clock::now();
    grpc::Status s = create(d, pod, config, &id);
    MESSAGE("CreateContainer with 100,000 env: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms");
    CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(s.error_message().find("envs: 100000 entries, at most 65536") != std::string::npos);

    // As many as allowed: accepted, and the container sees every one.
    config.mutable_envs()->DeleteSubrange(60000, 40000);
    t0 = std::chrono::steady_clock::now();
    s = create(d, pod, config, &id);
    MESSAGE("CreateContainer with 60,000 env: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms");
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    s = start(d, id);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    CHECK(sh_output(d, id, "tr '\\0' '\\n' < /proc/1/environ | grep -c '^VAR_'") == "60000\n");
    CHECK(sh_output(d, id, "tr '\\0' '\\n' < /proc/1/environ | grep '^VAR_59999='") == "VAR_59999=59999\n");
  }

  SUBCASE("a NUL in an env value cannot hide a second variable") {
    auto config = container_config("nul", "exec sleep 1000");
    auto* kv = config.add_envs();
    kv->set_key("A");
    kv->set_value(std::string("1\0LD_PRELOAD=/tmp/x.so", 21));
    std::string id;
    grpc::Status s = create(d, pod, config, &id);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find("NUL") != std::string::npos);
  }

  SUBCASE("annotations and labels") {
    auto config = container_config("big", "exec sleep 1000");
    for (int i = 0; i < 3; ++i) (*config.mutable_annotations())["a" + std::to_string(i)] = std::string(200 << 10, 'x');
    std::string id;
    grpc::Status s = create(d, pod, config, &id);
    CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(s.error_message().find("annotations in total") != std::string::npos);
    auto pconfig = pod_config("label");
    (*pconfig.mutable_labels())["app"] = std::string(2000, 'l');
    s = run_pod(d, pconfig, &id);
    CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(s.error_message().find("labels value of \"app\"") != std::string::npos);
  }

  SUBCASE("mounts and DNS") {
    auto config = container_config("mounts", "exec sleep 1000");
    for (int i = 0; i < 1025; ++i) {
      auto* m = config.add_mounts();
      m->set_host_path("/tmp");
      m->set_container_path("/m" + std::to_string(i));
    }
    std::string id;
    grpc::Status s = create(d, pod, config, &id);
    CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(s.error_message().find("mounts: 1025 entries, at most 1024") != std::string::npos);
    auto pconfig = pod_config("dns");
    pconfig.mutable_dns_config()->add_searches("svc.cluster.local\nnameserver 6.6.6.6");
    s = run_pod(d, pconfig, &id);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
  CHECK(count_pods(d) == 1);
}

TEST_CASE("security: an ExecSync timeout kills everything the command started") {
  Daemon d;
  start_daemon(d);
  // The pod shares its PID namespace: pause is pid 1 and reaps what the exec leaves behind.
  Pod pod(d, pod_config("exec", v1::POD));
  std::string c = run_container(d, pod, container_config("c", "exec tail -f /dev/null", v1::POD));
  REQUIRE(other_processes(d, c).find("tail") != std::string::npos);
  const std::string cgroup = memory_cgroup_of(d, c);
  const std::string procs_before = vpcri::fs::read_file(cgroup + "/cgroup.procs");

  // One process leaves the process group and session, another daemonizes (double fork).
  auto t0 = std::chrono::steady_clock::now();
  ExecResult e = exec(d, c, {"/bin/sh", "-c", "setsid sleep 1001 & (setsid sh -c 'sleep 1002 &' &); sleep 1003"}, 2);
  CHECK(e.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(std::chrono::steady_clock::now() - t0 < 30s);
  // Right when the call returns: nothing of it is left.
  const std::string left = other_processes(d, c);
  CHECK_MESSAGE(left.find("sleep") == std::string::npos, left);
  CHECK(vpcri::fs::read_file(cgroup + "/cgroup.procs") == procs_before);
  CHECK(sh_output(d, c, "echo still here") == "still here\n");
}

TEST_CASE("security: ExecSync ends when its caller goes away") {
  Daemon d;
  start_daemon(d);
  Pod pod(d, pod_config("cancel", v1::POD));
  std::string c = run_container(d, pod, container_config("c", "exec tail -f /dev/null", v1::POD));
  // No timeout: only the client's deadline (its cancellation) ends the call.
  ExecResult e = exec(d, c, {"/bin/sh", "-c", "setsid sleep 1004 & sleep 1005"}, 0, 2s);
  CHECK(e.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  bool gone = false;
  std::string left;
  for (int i = 0; i < 100 && !gone; ++i) {  // the server notices within its poll interval
    left = other_processes(d, c);
    gone = left.find("sleep") == std::string::npos;
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  CHECK_MESSAGE(gone, left);
}

TEST_CASE("ExecSync: background processes of a finished command stay; concurrency is capped") {
  Daemon d;
  start_daemon(d, "  max_concurrent_exec_sync: 2\n");  // continues pods_config_yaml's runtime: mapping
  Pod pod(d, pod_config("cap", v1::POD));
  std::string c = run_container(d, pod, container_config("c", "exec tail -f /dev/null", v1::POD));
  const std::string cgroup = memory_cgroup_of(d, c);

  SUBCASE("a daemon started by a finished exec keeps running, in the container's cgroup") {
    CHECK(sh_output(d, c, "setsid sleep 1006 >/dev/null 2>&1 &") == "");
    const std::string left = other_processes(d, c);
    CHECK_MESSAGE(left.find("sleep") != std::string::npos, left);
    const std::string procs = vpcri::fs::read_file(cgroup + "/cgroup.procs");
    CHECK_MESSAGE(std::count(procs.begin(), procs.end(), '\n') == 2, procs);  // tail and sleep
    size_t exec_cgroups = 0;
    for (const auto& entry : stdfs::directory_iterator(cgroup)) exec_cgroups += entry.is_directory();
    CHECK(exec_cgroups == 0);
  }

  SUBCASE("over the cap: RESOURCE_EXHAUSTED at once") {
    auto slow = [&] { return exec(d, c, {"sleep", "4"}); };
    auto first = std::async(std::launch::async, slow);
    auto second = std::async(std::launch::async, slow);
    // Both hold their slot once their cgroups exist.
    size_t running = 0;
    for (int i = 0; i < 200 && running < 2; ++i) {
      running = 0;
      for (const auto& entry : stdfs::directory_iterator(cgroup)) running += entry.is_directory();
      if (running < 2) std::this_thread::sleep_for(50ms);
    }
    REQUIRE(running == 2);
    ExecResult third = exec(d, c, {"true"});
    CHECK(third.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(third.status.error_message().find("runtime.max_concurrent_exec_sync") != std::string::npos);
    CHECK(first.get().status.ok());
    CHECK(second.get().status.ok());
    CHECK(exec(d, c, {"true"}).status.ok());  // the slots are free again
  }
}

TEST_CASE("ExecSync: output larger than a message is cut to fit, not refused") {
  Daemon d;
  start_daemon(d);
  Pod pod(d, pod_config("big"));
  std::string c = run_container(d, pod, container_config("c", "exec sleep 1000"));
  // A client with kubelet's 16 MiB message limit.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  auto channel = grpc::CreateCustomChannel("unix:" + d.socket(), grpc::InsecureChannelCredentials(), args);
  auto stub = v1::RuntimeService::NewStub(channel);

  ExecResult e = exec(d, c, {"/bin/sh", "-c", "head -c 20000000 /dev/zero"}, 0, 60s, stub.get());
  REQUIRE_MESSAGE(e.status.ok(), e.status.error_message());
  CHECK(e.resp.exit_code() == 0);
  CHECK(e.resp.stdout().size() > (15u << 20));
  CHECK(e.resp.ByteSizeLong() <= (16u << 20));

  e = exec(d, c, {"/bin/sh", "-c", "head -c 20000000 /dev/zero; head -c 20000000 /dev/zero >&2; exit 3"}, 0, 60s,
           stub.get());
  REQUIRE_MESSAGE(e.status.ok(), e.status.error_message());
  CHECK(e.resp.exit_code() == 3);
  CHECK(e.resp.stdout().size() > (7u << 20));
  CHECK(e.resp.stderr().size() > (7u << 20));
  CHECK(e.resp.ByteSizeLong() <= (16u << 20));
  CHECK(d.log().find("output truncated") != std::string::npos);
}

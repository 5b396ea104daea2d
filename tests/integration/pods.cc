#include "tests/integration/pods.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <thread>

namespace vpcri::test {

namespace v1 = runtime::v1;
using namespace std::chrono_literals;

const std::string& test_image_archive() {
  static TempDir dir;
  static std::string path;
  if (path.empty()) {
    const auto fixtures = std::filesystem::path(__FILE__).parent_path().parent_path() / "fixtures";
    RunResult built = run({"/usr/bin/python3", (fixtures / "images.py").string(), "build", "--out", dir.path()});
    REQUIRE_MESSAGE(built.exit_code == 0, built.err);
    path = dir.path() + "/oci-amd64.tar";
  }
  return path;
}

std::string pods_config_yaml(const std::string& monitor_path, const std::string& init_path) {
  return "images:\n  preload: [\"" + test_image_archive() + "\"]\nruntime:\n  monitor_path: \"" + monitor_path +
         "\"\n  init_path: \"" + init_path + "\"\n";
}

grpc::Status run_pod(Daemon& d, const v1::PodSandboxConfig& config, std::string* id) {
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  v1::RunPodSandboxResponse resp;
  auto s = d.runtime().RunPodSandbox(context(60s).get(), req, &resp);
  *id = resp.pod_sandbox_id();
  return s;
}

grpc::Status stop_pod(Daemon& d, const std::string& id) {
  v1::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  v1::StopPodSandboxResponse resp;
  return d.runtime().StopPodSandbox(context(60s).get(), req, &resp);
}

grpc::Status remove_pod(Daemon& d, const std::string& id) {
  v1::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  v1::RemovePodSandboxResponse resp;
  return d.runtime().RemovePodSandbox(context(60s).get(), req, &resp);
}

v1::PodSandboxStatusResponse pod_status(Daemon& d, const std::string& id) {
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(id);
  req.set_verbose(true);
  v1::PodSandboxStatusResponse resp;
  grpc::Status s = d.runtime().PodSandboxStatus(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp;
}

grpc::Status create_container(Daemon& d, const Pod& pod, const v1::ContainerConfig& config, std::string* id) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod.id());
  *req.mutable_config() = config;
  if (pod.config().log_directory().empty()) req.mutable_config()->clear_log_path();
  *req.mutable_sandbox_config() = pod.config();
  v1::CreateContainerResponse resp;
  auto s = d.runtime().CreateContainer(context(60s).get(), req, &resp);
  *id = resp.container_id();
  return s;
}

grpc::Status start_container(Daemon& d, const std::string& id) {
  v1::StartContainerRequest req;
  req.set_container_id(id);
  v1::StartContainerResponse resp;
  return d.runtime().StartContainer(context(60s).get(), req, &resp);
}

std::string run_shell_container(Daemon& d, const Pod& pod, const std::string& name, const std::string& script,
                                v1::NamespaceMode pid) {
  v1::ContainerConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_image()->set_image(kTestImage);
  config.add_command("/bin/sh");
  config.add_command("-c");
  config.add_args(script);
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(pid);
  return run_container(d, pod, config);
}

std::string run_container(Daemon& d, const Pod& pod, const v1::ContainerConfig& config) {
  std::string id;
  grpc::Status s = create_container(d, pod, config, &id);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  s = start_container(d, id);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return id;
}

ExecResult exec(Daemon& d, const std::string& id, const std::vector<std::string>& cmd, int64_t timeout_seconds,
                std::chrono::seconds deadline, v1::RuntimeService::Stub* stub) {
  v1::ExecSyncRequest req;
  req.set_container_id(id);
  for (const auto& c : cmd) req.add_cmd(c);
  req.set_timeout(timeout_seconds);
  ExecResult out;
  out.status = (stub ? *stub : d.runtime()).ExecSync(context(deadline).get(), req, &out.resp);
  return out;
}

grpc::Status exec_sync(Daemon& d, const std::string& id, const std::vector<std::string>& cmd,
                       v1::ExecSyncResponse* resp, int64_t timeout_seconds) {
  ExecResult e = exec(d, id, cmd, timeout_seconds);
  *resp = std::move(e.resp);
  return e.status;
}

std::string sh_output(Daemon& d, const std::string& id, const std::string& script) {
  ExecResult e = exec(d, id, {"/bin/sh", "-c", script});
  REQUIRE_MESSAGE(e.status.ok(), e.status.error_message());
  CHECK_MESSAGE(e.resp.exit_code() == 0, e.resp.stderr());
  return e.resp.stdout();
}

v1::ContainerStatus container_status(Daemon& d, const std::string& id) {
  v1::ContainerStatusRequest req;
  req.set_container_id(id);
  v1::ContainerStatusResponse resp;
  grpc::Status s = d.runtime().ContainerStatus(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp.status();
}

Pod::Pod(Daemon& d, v1::PodSandboxConfig config) : d_(d), config_(std::move(config)) {
  grpc::Status s = run_pod(d, config_, &id_);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
}

Pod::~Pod() {
  if (d_.running() && !id_.empty()) CHECK_MESSAGE(remove_pod(d_, id_).ok(), "removing pod " << id_);
}

void wait_tcp_listening(Daemon& d, const std::string& id, int port) {
  const std::string count = "netstat -ltn | grep -c ':" + std::to_string(port) + " ' || true";
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (sh_output(d, id, count) != "1\n" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
}

std::string port_forward_url(Daemon& d, const std::string& pod_id) {
  v1::PortForwardRequest req;
  req.set_pod_sandbox_id(pod_id);
  v1::PortForwardResponse resp;
  grpc::Status s = d.runtime().PortForward(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp.url();
}

}  // namespace vpcri::test

// Pod helpers shared by the integration tests that run pods through the CRI socket.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/daemon_fixture.h"

namespace vpcri::test {

// The busybox test image (tests/fixtures/images.py) as an OCI archive, built once per test run;
// it holds kTestImage.
const std::string& test_image_archive();
inline const std::string kTestImage = "docker.io/vpcri/imported:latest";  // images.py's default name

// vpcrid config YAML that preloads the test image and runs the monitor and init of this build
// (or the given copies of them).
std::string pods_config_yaml(const std::string& monitor_path = binary("VPCRI_MONITOR"),
                             const std::string& init_path = binary("VPCRI_INIT"));

grpc::Status run_pod(Daemon& d, const runtime::v1::PodSandboxConfig& config, std::string* id);
grpc::Status stop_pod(Daemon& d, const std::string& id);
grpc::Status remove_pod(Daemon& d, const std::string& id);
// Verbose status; the call must succeed.
runtime::v1::PodSandboxStatusResponse pod_status(Daemon& d, const std::string& id);

// Runs a pod and removes it (and so its containers) however the test ends, while the daemon runs.
class Pod {
 public:
  Pod(Daemon& d, runtime::v1::PodSandboxConfig config);
  ~Pod();
  Pod(const Pod&) = delete;
  Pod& operator=(const Pod&) = delete;
  void forget() { id_.clear(); }  // the test removed it itself
  const std::string& id() const { return id_; }
  const runtime::v1::PodSandboxConfig& config() const { return config_; }

 private:
  Daemon& d_;
  runtime::v1::PodSandboxConfig config_;
  std::string id_;
};

// CreateContainer in `pod` (log_path cleared when the pod has no log directory).
grpc::Status create_container(Daemon& d, const Pod& pod, const runtime::v1::ContainerConfig& config,
                              std::string* id);
grpc::Status start_container(Daemon& d, const std::string& id);
// ExecSync of `cmd`, with the RPC deadline `deadline`; through `stub` when given (e.g. a client
// that accepts kubelet's 16 MiB answers).
struct ExecResult {
  grpc::Status status;
  runtime::v1::ExecSyncResponse resp;
};
ExecResult exec(Daemon& d, const std::string& id, const std::vector<std::string>& cmd, int64_t timeout_seconds = 0,
                std::chrono::seconds deadline = std::chrono::seconds(60),
                runtime::v1::RuntimeService::Stub* stub = nullptr);
grpc::Status exec_sync(Daemon& d, const std::string& id, const std::vector<std::string>& cmd,
                       runtime::v1::ExecSyncResponse* resp, int64_t timeout_seconds = 0);
// The stdout of `sh -c script` in the container; the call must succeed and the script exit 0.
std::string sh_output(Daemon& d, const std::string& id, const std::string& script);
// Creates and starts a test-image container running `sh -c script` in `pod`; both calls must
// succeed. Returns its id.
std::string run_shell_container(Daemon& d, const Pod& pod, const std::string& name, const std::string& script,
                                runtime::v1::NamespaceMode pid = runtime::v1::POD);
// Creates and starts a container; both calls must succeed. Returns its id.
std::string run_container(Daemon& d, const Pod& pod, const runtime::v1::ContainerConfig& config);
// Waits (10 s at most) until something in the container listens on TCP `port` (busybox netstat).
void wait_tcp_listening(Daemon& d, const std::string& id, int port);
// The URL PortForward answers for the pod; the call must succeed.
std::string port_forward_url(Daemon& d, const std::string& pod_id);
// The container's status; the call must succeed.
runtime::v1::ContainerStatus container_status(Daemon& d, const std::string& id);

}  // namespace vpcri::test

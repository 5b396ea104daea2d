// Pod helpers shared by the integration tests that run pods through the CRI socket.
#pragma once

#include <string>

#include "tests/integration/daemon_fixture.h"

namespace vpcri::test {

// The busybox test image (tests/fixtures/images.py) as an OCI archive, built once per test run;
// it holds kTestImage.
const std::string& test_image_archive();
inline const std::string kTestImage = "docker.io/vpcri/imported:latest";  // images.py's default name

// vpcrid config YAML that preloads the test image and runs the monitor and init of this build.
std::string pods_config_yaml();

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

}  // namespace vpcri::test

// A pod with one long-running container to attack from: the tests run shell snippets in it
// with ExecSync (a real process in the container's namespaces, cgroups, capabilities and
// seccomp) and look at what the kernel allowed.
#pragma once

#include <memory>
#include <string>

#include "tests/integration/pods.h"

namespace vpcri::test {

struct Shell {
  int exit_code = -1;
  std::string out, err;
  std::string all() const { return out + err; }
};

// A started vpcrid with the test image preloaded.
void start_pods_daemon(Daemon& d);

// A container config running `sleep` as root from the test image (privileged or not).
runtime::v1::ContainerConfig sleeper_config(const std::string& name, bool privileged);

class AttackPod {
 public:
  AttackPod(Daemon& d, const std::string& name, bool privileged = false);
  // CreateContainer + StartContainer of `config` in the pod; returns the gRPC status of the
  // first failing call (the container id in *id when created).
  grpc::Status start(const runtime::v1::ContainerConfig& config, std::string* id);
  // Starts `config` (must succeed) and makes it the target of sh().
  void start_or_fail(const runtime::v1::ContainerConfig& config);
  // /bin/sh -c `script` in the container (ExecSync must succeed, whatever the exit code).
  Shell sh(const std::string& script);

 private:
  Daemon& d_;
  std::unique_ptr<Pod> pod_;
  std::string container_;
};

}  // namespace vpcri::test

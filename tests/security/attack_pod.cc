#include "tests/security/attack_pod.h"

#include <doctest/doctest.h>

namespace vpcri::test {

namespace v1 = runtime::v1;
using namespace std::chrono_literals;

void start_pods_daemon(Daemon& d) {
  d.set_config(pods_config_yaml());
  d.start();
}

v1::ContainerConfig sleeper_config(const std::string& name, bool privileged) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(kTestImage);
  for (const char* arg : {"/bin/sleep", "3600"}) c.add_command(arg);
  auto* sc = c.mutable_linux()->mutable_security_context();
  sc->mutable_run_as_user()->set_value(0);
  sc->set_privileged(privileged);
  sc->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}

namespace {

v1::PodSandboxConfig attack_pod_config(const std::string& name, bool privileged) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("security");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.set_hostname(name);
  auto* sc = c.mutable_linux()->mutable_security_context();
  sc->set_privileged(privileged);
  sc->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}

}  // namespace

AttackPod::AttackPod(Daemon& d, const std::string& name, bool privileged)
    : d_(d), pod_(std::make_unique<Pod>(d, attack_pod_config(name, privileged))) {}

grpc::Status AttackPod::start(const v1::ContainerConfig& config, std::string* id) {
  v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod_->id());
  *create.mutable_config() = config;
  *create.mutable_sandbox_config() = pod_->config();
  v1::CreateContainerResponse created;
  grpc::Status s = d_.runtime().CreateContainer(context(60s).get(), create, &created);
  *id = created.container_id();
  if (!s.ok()) return s;
  v1::StartContainerRequest start;
  start.set_container_id(*id);
  v1::StartContainerResponse started;
  return d_.runtime().StartContainer(context(60s).get(), start, &started);
}

void AttackPod::start_or_fail(const v1::ContainerConfig& config) {
  grpc::Status s = start(config, &container_);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
}

Shell AttackPod::sh(const std::string& script) {
  REQUIRE_MESSAGE(!container_.empty(), "no container started");
  v1::ExecSyncRequest req;
  req.set_container_id(container_);
  for (const std::string& arg : {std::string("/bin/sh"), std::string("-c"), script}) req.add_cmd(arg);
  req.set_timeout(30);
  v1::ExecSyncResponse resp;
  grpc::Status s = d_.runtime().ExecSync(context(60s).get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  Shell out{resp.exit_code(), resp.stdout(), resp.stderr()};
  MESSAGE("$ " << script << "\n" << out.all() << "(exit " << out.exit_code << ")");
  return out;
}

}  // namespace vpcri::test

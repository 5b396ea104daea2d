#include "cri/server/request_validation.h"

#include <doctest/doctest.h>

#include "common/error.h"

using namespace vpcri::cri;
namespace v1 = runtime::v1;
using vpcri::Errc;

namespace {

struct Outcome {
  bool ok = true;
  Errc code = Errc::internal;
  std::string message;
};

template <typename F>
Outcome outcome(F&& f) {
  try {
    f();
  } catch (const vpcri::Error& e) {
    return {false, e.code(), e.what()};
  }
  return {};
}

bool refused(const Outcome& o, Errc code, const std::string& needle) {
  if (o.ok) return false;
  INFO(o.message);
  return o.code == code && o.message.find(needle) != std::string::npos;
}

v1::PodSandboxConfig pod() {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name("web-0");
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("0f4c1b1e-1d2a-4c36-9b9e-5d8a1c2e7f00");
  return c;
}

v1::ContainerConfig container() {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name("app");
  c.mutable_image()->set_image("busybox");
  c.add_command("/bin/sh");
  return c;
}

}  // namespace

TEST_CASE("hostnames: lowercase RFC 1123, at most 64 bytes") {
  for (const char* good : {"web-0", "a", "web-0.default.svc.cluster.local", "0abc", "x1-2-3"}) {
    CHECK_MESSAGE(outcome([&] { validate_hostname(good); }).ok, good);
  }
  CHECK(outcome([&] { validate_hostname(std::string(63, 'a')); }).ok);
  CHECK(outcome([&] { validate_hostname(std::string(63, 'a') + ".b"); }).ok == false);  // 65 bytes
  CHECK(refused(outcome([&] { validate_hostname(std::string(65, 'a')); }), Errc::invalid_argument, "longer than 64"));
  CHECK(refused(outcome([&] { validate_hostname(std::string(64, 'a')); }), Errc::invalid_argument, "1-63 bytes"));
  for (const char* bad : {"Web", "web_0", "web 0", "web\nnameserver", "-web", "web-", "a..b", ".a", "a.", "wéb"}) {
    CHECK_MESSAGE(refused(outcome([&] { validate_hostname(bad); }), Errc::invalid_argument, "RFC 1123"), bad);
  }
  CHECK(refused(outcome([&] { validate_hostname(std::string("a\0b", 3)); }), Errc::invalid_argument, "RFC 1123"));
}

TEST_CASE("the pod hostname is the node's when none is requested") {
  char node[256] = {};
  REQUIRE(::gethostname(node, sizeof node - 1) == 0);
  CHECK(pod_hostname("") == node);
  CHECK(pod_hostname("web-0") == "web-0");
  CHECK_THROWS_AS(pod_hostname("Bad_Name"), vpcri::Error);
}

TEST_CASE("ids must fit a uid_t and not be -1") {
  CHECK(checked_id(0, "run_as_user") == 0u);
  CHECK(checked_id(kMaxId, "run_as_user") == 4294967294u);
  CHECK(refused(outcome([] { checked_id(kMaxId + 1, "run_as_user"); }), Errc::invalid_argument, "out of range"));
  CHECK(refused(outcome([] { checked_id(-1, "run_as_group"); }), Errc::invalid_argument, "run_as_group -1"));
  CHECK(refused(outcome([] { checked_id(int64_t{1} << 40, "x"); }), Errc::invalid_argument, "out of range"));
}

TEST_CASE("pod sandbox config") {
  CHECK(outcome([] { validate_pod_sandbox_config(pod()); }).ok);

  auto c = pod();
  c.set_hostname("Bad_Host");
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::invalid_argument, "hostname"));

  c = pod();
  c.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(int64_t{1} << 32);
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::invalid_argument, "run_as_user 4294967296"));

  c = pod();
  c.mutable_linux()->mutable_security_context()->mutable_run_as_group()->set_value(1000);
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::invalid_argument, "without run_as_user"));
  c.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(1000);
  CHECK(outcome([&] { validate_pod_sandbox_config(c); }).ok);
  c.mutable_linux()->mutable_security_context()->add_supplemental_groups(-5);
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::invalid_argument, "supplemental_groups -5"));

  c = pod();
  (*c.mutable_labels())["app"] = std::string(RequestLimits::max_label_value_bytes + 1, 'x');
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::resource_exhausted, "labels value of \"app\""));
  c = pod();
  (*c.mutable_labels())[std::string(RequestLimits::max_key_bytes + 1, 'k')] = "v";
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::resource_exhausted, "labels key"));
  c = pod();
  (*c.mutable_labels())[""] = "v";
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::invalid_argument, "a key is empty"));

  c = pod();
  for (int i = 0; i < 3; ++i) (*c.mutable_annotations())["a" + std::to_string(i)] = std::string(200 << 10, 'x');
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::resource_exhausted, "annotations in total"));
  c.mutable_annotations()->erase("a2");
  CHECK(outcome([&] { validate_pod_sandbox_config(c); }).ok);  // 400 KiB: a full pod + kubelet's own

  c = pod();
  for (size_t i = 0; i <= RequestLimits::max_dns_entries; ++i) c.mutable_dns_config()->add_searches("svc.local");
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::resource_exhausted, "dns_config.searches"));
  c = pod();
  c.mutable_dns_config()->add_servers(std::string(300, '1'));
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::resource_exhausted, "dns_config.servers"));

  c = pod();
  c.mutable_metadata()->set_name("web\n0");
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::invalid_argument, "metadata name"));
  c = pod();
  c.set_log_directory(std::string("/var/log/pods/x\0y", 17));
  CHECK(refused(outcome([&] { validate_pod_sandbox_config(c); }), Errc::invalid_argument, "NUL"));
}

TEST_CASE("container config: user") {
  CHECK(outcome([] { validate_container_config(container()); }).ok);
  auto c = container();
  auto* sc = c.mutable_linux()->mutable_security_context();
  sc->mutable_run_as_group()->set_value(1000);
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::invalid_argument,
                "run_as_group is set without run_as_user or run_as_username"));
  sc->set_run_as_username("nobody");
  CHECK(outcome([&] { validate_container_config(c); }).ok);
  sc->clear_run_as_username();
  sc->mutable_run_as_user()->set_value(1000);
  CHECK(outcome([&] { validate_container_config(c); }).ok);
  sc->mutable_run_as_group()->set_value(-1);
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::invalid_argument, "run_as_group -1"));
  sc->mutable_run_as_group()->set_value(0);
  sc->mutable_run_as_user()->set_value(4294967295);
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::invalid_argument, "run_as_user 4294967295"));
}

TEST_CASE("container config: env, args, mounts, devices") {
  auto c = container();
  for (size_t i = 0; i < RequestLimits::max_env; ++i) {
    auto* kv = c.add_envs();
    kv->set_key("K" + std::to_string(i));
    kv->set_value("v");
  }
  CHECK(outcome([&] { validate_container_config(c); }).ok);
  c.add_envs()->set_key("ONE_TOO_MANY");
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::resource_exhausted, "envs: 65537 entries, at most 65536"));

  c = container();
  c.add_envs()->set_key("A=B");
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::invalid_argument, "contains '='"));
  c = container();
  c.add_envs()->set_key("");
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::invalid_argument, "name is empty"));
  c = container();
  auto* kv = c.add_envs();
  kv->set_key("A");
  kv->set_value(std::string("x\0LD_PRELOAD=/evil.so", 20));
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::invalid_argument, "NUL"));
  kv->set_value("multi\nline values are fine");
  CHECK(outcome([&] { validate_container_config(c); }).ok);
  kv->set_value(std::string(RequestLimits::max_arg_bytes, 'x'));
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::resource_exhausted, "envs[0] (A)"));

  c = container();
  for (int i = 0; i < 60; ++i) c.add_args(std::string(120 << 10, 'a'));  // 7 MiB in all
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::resource_exhausted, "execve's limit"));
  c = container();
  c.add_args(std::string("a\0b", 3));
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::invalid_argument, "args[0] contains a NUL"));

  c = container();
  for (size_t i = 0; i <= RequestLimits::max_mounts; ++i) c.add_mounts()->set_container_path("/m" + std::to_string(i));
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::resource_exhausted, "mounts: 1025 entries"));
  c = container();
  c.add_mounts()->set_host_path(std::string(5000, 'p'));
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::resource_exhausted, "mount host_path"));
  c = container();
  for (size_t i = 0; i <= RequestLimits::max_devices; ++i) c.add_devices()->set_container_path("/dev/d");
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::resource_exhausted, "devices"));
  c = container();
  c.set_working_dir(std::string("/a\0b", 4));
  CHECK(refused(outcome([&] { validate_container_config(c); }), Errc::invalid_argument, "working_dir"));
}

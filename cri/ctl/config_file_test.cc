#include "cri/ctl/config_file.h"

#include <doctest/doctest.h>

#include <stdexcept>

#include "cri/api/cri_api.h"

using namespace vpcri::ctl;
namespace v1 = runtime::v1;

namespace {
// The message parse_config throws for `text` read from `file`.
std::string error_of(const std::string& text, const std::string& file, google::protobuf::Message* message) {
  try {
    parse_config(text, file, message);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("expected an error for: " << text);
  return {};
}
}  // namespace

TEST_CASE("a crictl pod config in JSON, with proto and JSON field names") {
  v1::PodSandboxConfig c;
  parse_config(R"({
    "metadata": {"name": "busybox", "namespace": "default", "attempt": 1, "uid": "abc"},
    "log_directory": "/tmp/logs",
    "hostname": "bb",
    "labels": {"app": "web"},
    "linux": {"security_context": {"namespaceOptions": {"network": "NODE"}}}
  })", "pod.json", &c);
  CHECK(c.metadata().name() == "busybox");
  CHECK(c.metadata().namespace_() == "default");
  CHECK(c.metadata().attempt() == 1);
  CHECK(c.log_directory() == "/tmp/logs");
  CHECK(c.labels().at("app") == "web");
  CHECK(c.linux().security_context().namespace_options().network() == v1::NODE);

  v1::PodSandboxConfig camel;
  parse_config(R"({"logDirectory": "/x"})", "p.json", &camel);
  CHECK(camel.log_directory() == "/x");
}

TEST_CASE("a container config in YAML takes each scalar as its field's type") {
  v1::ContainerConfig c;
  parse_config(R"(
metadata:
  name: 123            # a string field: stays "123"
image:
  image: busybox:1.36
command: [sleep]
args: ["3600"]
envs:
  - {key: A, value: "1"}
labels:
  enabled: true        # map<string,string>: "true"
log_path: sleep.log
tty: yes
linux:
  resources:
    memory_limit_in_bytes: 67108864
    cpuShares: 512
  security_context:
    privileged: false
    run_as_user: {value: 0}
)", "container.yaml", &c);
  CHECK(c.metadata().name() == "123");
  CHECK(c.image().image() == "busybox:1.36");
  REQUIRE(c.command_size() == 1);
  CHECK(c.command(0) == "sleep");
  CHECK(c.args(0) == "3600");
  CHECK(c.envs(0).key() == "A");
  CHECK(c.envs(0).value() == "1");
  CHECK(c.labels().at("enabled") == "true");
  CHECK(c.log_path() == "sleep.log");
  CHECK(c.tty());
  CHECK(c.linux().resources().memory_limit_in_bytes() == 67108864);
  CHECK(c.linux().resources().cpu_shares() == 512);
  CHECK_FALSE(c.linux().security_context().privileged());
  CHECK(c.linux().security_context().has_run_as_user());
  CHECK(c.linux().security_context().run_as_user().value() == 0);
}

TEST_CASE("YAML without a .yaml name, and an empty file, are accepted") {
  v1::PodSandboxConfig c;
  parse_config("metadata:\n  name: p\n", "pod-config", &c);
  CHECK(c.metadata().name() == "p");
  v1::PodSandboxConfig empty;
  parse_config("", "empty.yaml", &empty);
  CHECK_FALSE(empty.has_metadata());
}

TEST_CASE("errors name the file, and in YAML the line, column and field") {
  v1::PodSandboxConfig p;
  std::string e = error_of(R"({"metadata": {"nmae": "x"}})", "pod.json", &p);
  CHECK(e.rfind("pod.json: ", 0) == 0);
  CHECK(e.find("nmae") != std::string::npos);

  e = error_of("{\"metadata\": ", "pod.json", &p);
  CHECK(e.rfind("pod.json: ", 0) == 0);

  e = error_of("metadata:\n  name: x\n  nmae: y\n", "pod.yaml", &p);
  CHECK(e == "pod.yaml:3:3: metadata.nmae: unknown field in PodSandboxMetadata");

  e = error_of("metadata: [1, 2]\n", "pod.yaml", &p);
  CHECK(e == "pod.yaml:1:11: metadata: expected a mapping (PodSandboxMetadata)");

  e = error_of("just text\n", "pod.yaml", &p);
  CHECK(e == "pod.yaml:1:1: expected a mapping (PodSandboxConfig)");

  e = error_of("labels: [a]\n", "pod.yaml", &p);
  CHECK(e == "pod.yaml:1:9: labels: expected a mapping");

  v1::ContainerConfig c;
  e = error_of("command: sleep\n", "c.yaml", &c);
  CHECK(e == "c.yaml:1:10: command: expected a list");
  e = error_of("tty: maybe\n", "c.yaml", &c);
  CHECK(e == "c.yaml:1:6: tty: expected true or false");
  e = error_of("metadata: {attempt: lots}\n", "c.yaml", &c);
  CHECK(e.rfind("c.yaml: ", 0) == 0);
  e = error_of("metadata: {name: [x]\n", "c.yaml", &c);
  CHECK(e.rfind("c.yaml:", 0) == 0);
}

TEST_CASE("load_config reads the file, and says when it cannot") {
  v1::PodSandboxConfig p;
  CHECK_THROWS_WITH_AS(load_config("/nonexistent/pod.json", &p), doctest::Contains("/nonexistent/pod.json"),
                       std::runtime_error);
  load_config(VPCRI_EXAMPLES "/pod.json", &p);
  CHECK(p.metadata().name() == "busybox-sandbox");
  v1::ContainerConfig c;
  load_config(VPCRI_EXAMPLES "/container.json", &c);
  CHECK(c.image().image() == "docker.io/library/busybox:1.36");
}

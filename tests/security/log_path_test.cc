// log_path_symlink, log_path_dotdot: a container's CRI log must land in the pod's log directory
// and nowhere else. vpcri-monitor writes it as root, so a symlink planted at the log's place (by
// a container with the log directory as a hostPath volume) or a log_path with ".." would make it
// append the container's output to any host file.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kHostData = "host data, not a log\n";

v1::PodSandboxConfig pod_config(const std::string& name, const std::string& log_dir) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("security");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.set_log_directory(log_dir);
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}

v1::ContainerConfig shell(const std::string& name, const std::string& log_path, const std::string& script) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(kTestImage);
  c.add_command("/bin/sh");
  c.add_command("-c");
  c.add_command(script);
  c.set_log_path(log_path);
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}

// Creates and starts; the status of whichever step failed.
grpc::Status run(Daemon& d, const Pod& pod, const v1::ContainerConfig& config, std::string* id) {
  grpc::Status s = create_container(d, pod, config, id);
  return s.ok() ? start_container(d, *id) : s;
}

bool wait_exited(Daemon& d, const std::string& id) {
  for (int i = 0; i < 200; i++) {
    if (container_status(d, id).state() == v1::CONTAINER_EXITED) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

void start_daemon(Daemon& d) {
  d.set_config(pods_config_yaml());
  d.start();
}

}  // namespace

TEST_CASE("log_path_symlink: output never follows a symlink planted where the log goes") {
  TempDir tmp;
  const std::string logs = tmp.path() + "/logs", host = tmp.path() + "/host";
  stdfs::create_directories(logs);
  stdfs::create_directories(host);
  const std::string host_file = host + "/file";
  vpcri::fs::write_file_atomic(host_file, kHostData);
  Daemon d;
  start_daemon(d);
  Pod pod(d, pod_config("logs", logs));

  // The attacker: a container of the pod with the pod's log directory as a hostPath volume.
  auto planter = shell("planter", "planter.log",
                       "ln -s " + host_file + " /podlogs/victim.log && ln -s " + host + " /podlogs/victim-dir && echo planted");
  auto* m = planter.add_mounts();
  m->set_container_path("/podlogs");
  m->set_host_path(logs);
  std::string planter_id;
  grpc::Status s = run(d, pod, planter, &planter_id);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  REQUIRE(wait_exited(d, planter_id));
  REQUIRE(container_status(d, planter_id).exit_code() == 0);
  REQUIRE(stdfs::is_symlink(logs + "/victim.log"));

  for (const std::string log_path : {"victim.log", "victim-dir/0.log"}) {
    CAPTURE(log_path);
    std::string id;
    s = run(d, pod, shell("victim-" + std::to_string(log_path.size()), log_path, "echo LEAKED-OUTPUT"), &id);
    if (s.ok()) CHECK(wait_exited(d, id));  // (either it starts and writes nowhere, or it fails)
    if (!s.ok()) CHECK(s.error_message().find("log") != std::string::npos);
    CHECK(vpcri::fs::read_file(host_file) == kHostData);
    CHECK(!stdfs::exists(host + "/0.log"));
  }

  // ReopenContainerLog after the log was replaced by a symlink (log rotation renames it first).
  std::string ticker;
  s = run(d, pod, shell("ticker", "ticker.log", "while true; do echo TICK; sleep 0.1; done"), &ticker);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  const std::string ticker_log = logs + "/ticker.log";
  for (int i = 0; i < 100 && vpcri::fs::read_file(ticker_log).find("TICK") == std::string::npos; i++) {
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(::rename(ticker_log.c_str(), (ticker_log + ".1").c_str()) == 0);
  REQUIRE(::symlink(host_file.c_str(), ticker_log.c_str()) == 0);
  v1::ReopenContainerLogRequest req;
  req.set_container_id(ticker);
  v1::ReopenContainerLogResponse resp;
  s = d.runtime().ReopenContainerLog(context().get(), req, &resp);
  CHECK(!s.ok());
  std::this_thread::sleep_for(500ms);  // ticks that would have gone to the new file
  CHECK(vpcri::fs::read_file(host_file) == kHostData);
}

TEST_CASE("log_path_dotdot: a log_path outside the pod's log directory is refused") {
  TempDir tmp;
  const std::string logs = tmp.path() + "/pod/logs";
  stdfs::create_directories(logs);
  Daemon d;
  start_daemon(d);
  Pod pod(d, pod_config("dotdot", logs));
  for (const std::string& log_path :
       std::vector<std::string>{"../escape.log", "ctr/../../escape.log", "..", tmp.path() + "/abs.log"}) {
    CAPTURE(log_path);
    std::string id;
    grpc::Status s = create_container(d, pod, shell("c" + std::to_string(log_path.size()), log_path, "echo out"), &id);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find("log_path") != std::string::npos);
    CHECK(s.error_message().find("..") != std::string::npos);
    if (s.ok()) start_container(d, id);
  }
  std::this_thread::sleep_for(200ms);
  CHECK(!stdfs::exists(tmp.path() + "/pod/escape.log"));
  CHECK(!stdfs::exists(tmp.path() + "/escape.log"));
  CHECK(!stdfs::exists(tmp.path() + "/abs.log"));
}

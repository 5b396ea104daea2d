// vpcrid as a process: CRI over its socket, locking, signals, config errors, vpcrictl.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <csignal>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "tests/integration/daemon_fixture.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;

namespace {

v1::StatusResponse status(Daemon& d, bool verbose) {
  v1::StatusRequest req;
  req.set_verbose(verbose);
  v1::StatusResponse resp;
  grpc::Status s = d.runtime().Status(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp;
}

const v1::RuntimeCondition* condition(const v1::StatusResponse& resp, const std::string& type) {
  for (const auto& c : resp.status().conditions()) {
    if (c.type() == type) return &c;
  }
  return nullptr;
}

std::vector<std::string> pod_cidrs(Daemon& d) {
  auto resp = status(d, true);
  auto j = nlohmann::json::parse(resp.info().at("network"));
  return j.at("pod_cidrs").get<std::vector<std::string>>();
}

grpc::Status update_pod_cidr(Daemon& d, const std::string& cidr) {
  v1::UpdateRuntimeConfigRequest req;
  req.mutable_runtime_config()->mutable_network_config()->set_pod_cidr(cidr);
  v1::UpdateRuntimeConfigResponse resp;
  return d.runtime().UpdateRuntimeConfig(context().get(), req, &resp);
}

}  // namespace

TEST_CASE("Version names vpcri and the v1 API") {
  Daemon d;
  d.start();
  v1::VersionRequest req;
  v1::VersionResponse resp;
  REQUIRE(d.runtime().Version(context().get(), req, &resp).ok());
  CHECK(resp.runtime_name() == "vpcri");
  CHECK(resp.runtime_api_version() == "v1");
  CHECK(resp.runtime_version() == "0.1.0");
  CHECK(resp.version() == "0.1.0");
}

TEST_CASE("Status reports truthful conditions and verbose config and build info") {
  Daemon d;
  d.start();
  auto resp = status(d, false);
  REQUIRE(condition(resp, "RuntimeReady"));
  CHECK(condition(resp, "RuntimeReady")->status());
  REQUIRE(condition(resp, "NetworkReady"));
  CHECK_FALSE(condition(resp, "NetworkReady")->status());
  CHECK(condition(resp, "NetworkReady")->reason() == "NetworkPluginNotReady");
  CHECK_FALSE(condition(resp, "NetworkReady")->message().empty());
  CHECK(resp.info().empty());

  auto verbose = status(d, true);
  auto config = nlohmann::json::parse(verbose.info().at("config"));
  CHECK(config.at("root") == d.root());
  CHECK(config.at("socket") == d.socket());
  CHECK(config.at("source") == "embedded defaults");
  auto build = nlohmann::json::parse(verbose.info().at("build"));
  CHECK(build.at("version") == "0.1.0");
  CHECK(build.contains("cgroup_mode"));
}

TEST_CASE("RuntimeConfig reports the cgroupfs driver") {
  Daemon d;
  d.start();
  v1::RuntimeConfigRequest req;
  v1::RuntimeConfigResponse resp;
  REQUIRE(d.runtime().RuntimeConfig(context().get(), req, &resp).ok());
  CHECK(resp.linux().cgroup_driver() == v1::CgroupDriver::CGROUPFS);
}

TEST_CASE("UpdateRuntimeConfig stores the pod CIDRs across restarts and rejects garbage") {
  Daemon d;
  d.start();
  CHECK(pod_cidrs(d).empty());
  CHECK(update_pod_cidr(d, "").ok());  // kubelet's empty config is not an error
  REQUIRE(update_pod_cidr(d, "10.244.1.0/24,fd00:10:244:1::/64").ok());
  CHECK(pod_cidrs(d) == std::vector<std::string>{"10.244.1.0/24", "fd00:10:244:1::/64"});

  grpc::Status bad = update_pod_cidr(d, "10.244.1.7/24");
  CHECK(bad.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(bad.error_message().find("10.244.1.7/24") != std::string::npos);
  CHECK(update_pod_cidr(d, "banana").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(pod_cidrs(d).size() == 2);  // a rejected update changes nothing

  CHECK(d.stop(SIGTERM) == 0);
  d.start();
  CHECK(pod_cidrs(d) == std::vector<std::string>{"10.244.1.0/24", "fd00:10:244:1::/64"});
}

TEST_CASE("RPCs not built yet answer UNIMPLEMENTED naming the RPC") {
  Daemon d;
  d.start();
  v1::CheckpointContainerRequest checkpoint_req;
  v1::CheckpointContainerResponse checkpoint_resp;
  grpc::Status s = d.runtime().CheckpointContainer(context().get(), checkpoint_req, &checkpoint_resp);
  CHECK(s.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(s.error_message().find("CheckpointContainer") != std::string::npos);

  // Pod RPCs are built: an empty request is refused for what it lacks.
  v1::RunPodSandboxRequest run_req;
  v1::RunPodSandboxResponse run_resp;
  s = d.runtime().RunPodSandbox(context().get(), run_req, &run_resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("metadata") != std::string::npos);

  v1::StreamImagesRequest images_req;
  auto images_ctx = context();
  auto images_reader = d.images().StreamImages(images_ctx.get(), images_req);
  v1::StreamImagesResponse images_resp;
  CHECK_FALSE(images_reader->Read(&images_resp));
  s = images_reader->Finish();
  CHECK(s.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(s.error_message().find("StreamImages") != std::string::npos);

  v1::StreamPodSandboxesRequest pods_req;
  auto ctx = context();
  auto reader = d.runtime().StreamPodSandboxes(ctx.get(), pods_req);
  v1::StreamPodSandboxesResponse pods_resp;
  CHECK_FALSE(reader->Read(&pods_resp));
  s = reader->Finish();
  CHECK(s.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(s.error_message().find("StreamPodSandboxes") != std::string::npos);
}

TEST_CASE("the socket is 0660 in a 0700 directory") {
  Daemon d;
  d.start();
  struct stat st {};
  REQUIRE(::stat(d.socket().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0660);
  REQUIRE(::stat((d.dir() + "/run").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("a second vpcrid on the same root or socket refuses to start") {
  Daemon d;
  d.start();
  auto args = d.args();
  // Same root, other socket.
  auto same_root = args;
  same_root[6] = d.dir() + "/other.sock";
  RunResult r = run(same_root);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("already using root directory " + d.root()) != std::string::npos);
  // Same socket, other root and state.
  auto same_socket = args;
  same_socket[2] = d.dir() + "/root2";
  same_socket[4] = d.dir() + "/state2";
  r = run(same_socket);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("already using socket " + d.socket()) != std::string::npos);
  // The first one is unharmed.
  CHECK(condition(status(d, false), "RuntimeReady")->status());
}

TEST_CASE("SIGTERM and SIGINT stop vpcrid cleanly and remove the socket") {
  for (int sig : {SIGTERM, SIGINT}) {
    CAPTURE(sig);
    Daemon d;
    d.start();
    CHECK(d.stop(sig) == 0);
    CHECK_FALSE(vpcri::fs::exists(d.socket()));
    CHECK(d.log().find("msg=stopped") != std::string::npos);
  }
}

TEST_CASE("after kill -9 the next vpcrid replaces the stale socket") {
  Daemon d;
  d.start();
  CHECK(d.stop(SIGKILL) == -SIGKILL);
  CHECK(vpcri::fs::exists(d.socket()));  // left behind by the crash
  d.start();
  CHECK(condition(status(d, false), "RuntimeReady")->status());
  CHECK(d.log().find("removed stale socket") != std::string::npos);
}

TEST_CASE("something that is not a socket at the socket path is left alone") {
  Daemon d;
  vpcri::fs::mkdir_p(d.dir() + "/run", 0700);
  vpcri::fs::write_file_atomic(d.socket(), "precious");
  CHECK_THROWS_WITH(d.start(), doctest::Contains("is not a socket; refusing to replace it"));
  CHECK(vpcri::fs::read_file(d.socket()) == "precious");
}

TEST_CASE("a bad config file stops vpcrid with file, line and column") {
  TempDir dir;
  std::string config = dir.path() + "/config.yaml";
  vpcri::fs::write_file_atomic(config, "root: /var/lib/vpcri\nlog_level: chatty\n");
  RunResult r = run({binary("VPCRID"), "--config", config, "--check-config"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(config + ":2:12: log_level: expected one of debug, info, warn, error, got \"chatty\"") !=
        std::string::npos);

  vpcri::fs::write_file_atomic(config, "root: /srv/vpcri\n");
  r = run({binary("VPCRID"), "--config", config, "--socket", "/run/x.sock", "--check-config"});
  CHECK(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("root") == "/srv/vpcri");     // from the file
  CHECK(j.at("socket") == "/run/x.sock");  // flag wins
  CHECK(j.at("source") == config);

  r = run({binary("VPCRID"), "--log-level", "loud", "--check-config"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("--log-level") != std::string::npos);
  r = run({binary("VPCRID"), "--no-such-flag"});
  CHECK(r.exit_code == 2);
}

TEST_CASE("vpcrictl talks to vpcrid: version and info") {
  Daemon d;
  d.start();
  RunResult r = run({binary("VPCRICTL"), "--endpoint", "unix://" + d.socket(), "version"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("RuntimeName:         vpcri") != std::string::npos);
  CHECK(r.out.find("RuntimeApiVersion:   v1") != std::string::npos);

  r = run({binary("VPCRICTL"), "-r", d.socket(), "-o", "json", "info"});
  CHECK(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("status").at("conditions").size() == 2);
  CHECK(j.at("config").at("root") == d.root());

  r = run({binary("VPCRICTL"), "-r", d.socket(), "info"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("NetworkReady") != std::string::npos);

  r = run({binary("VPCRICTL"), "-r", d.dir() + "/nothing.sock", "-t", "2", "version"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("is vpcrid running") != std::string::npos);
  r = run({binary("VPCRICTL"), "frobnicate"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("unknown command") != std::string::npos);
}

TEST_CASE("pause exits 0 on SIGTERM and SIGINT") {
  for (int sig : {SIGTERM, SIGINT}) {
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string pause = binary("VPCRI_PAUSE");
      ::execl(pause.c_str(), pause.c_str(), nullptr);
      _exit(127);
    }
    // Give it a moment to install its handlers; a signal before then would kill it (-sig).
    for (int i = 0; i < 100; ++i) {
      std::string stat = vpcri::fs::read_file("/proc/" + std::to_string(pid) + "/stat");
      if (stat.find(" S ") != std::string::npos) break;
      ::usleep(10000);
    }
    ::usleep(50000);
    ::kill(pid, sig);
    int wstatus = 0;
    REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
    CHECK(WIFEXITED(wstatus));
    CHECK(WEXITSTATUS(wstatus) == 0);
  }
}

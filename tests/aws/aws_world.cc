#include "tests/aws/aws_world.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "common/error.h"

namespace vpcri::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kPython = "/usr/bin/python3";  // Debian's, with python3-botocore

std::string world_script() {
  const char* path = std::getenv("VPCRI_AWS_WORLD");
  REQUIRE_MESSAGE(path != nullptr, "VPCRI_AWS_WORLD (tests/aws/world.py) not set");
  return path;
}

}  // namespace

AwsWorld::AwsWorld(int nodes, const std::vector<std::string>& extra_args) : dir_(tmp_.path() + "/world") {
  std::vector<std::string> argv{kPython, world_script(), "up", std::to_string(nodes), "--dir", dir_};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  RunResult r = run(argv, 60s);
  REQUIRE_MESSAGE(r.exit_code == 0, "world.py up: " << r.err << r.out);  // up removes what it made on failure
  info_ = json::parse(r.out);
}

AwsWorld::~AwsWorld() { run({kPython, world_script(), "down", dir_}, 60s); }

std::string AwsWorld::node_netns(int i) const { return "/run/netns/" + node(i).at("netns").get<std::string>(); }

json AwsWorld::control(const json& request) const {
  RunResult r = run({kPython, world_script(), "control", dir_, request.dump()});
  REQUIRE_MESSAGE(r.exit_code == 0, "world.py control: " << r.err);
  return json::parse(r.out);
}

json AwsWorld::eni_holding(const std::string& ip) const {
  const json dump = state();  // not state().at(...) in the loop header: that would dangle
  for (const auto& eni : dump.at("network_interfaces")) {
    for (const auto& a : eni.at("PrivateIpAddresses")) {
      if (a.at("PrivateIpAddress") == ip && !a.at("Primary").get<bool>()) return eni;
    }
  }
  return nullptr;
}

std::vector<json> AwsWorld::enis_of(int node) const {
  std::vector<json> out;
  const json dump = state();
  for (const auto& eni : dump.at("network_interfaces")) {
    if (eni.contains("Attachment") && eni["Attachment"].at("InstanceId") == instance_id(node)) out.push_back(eni);
  }
  return out;
}

ScopedNetns::ScopedNetns(const std::string& path) {
  home_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_fd_ < 0) throw_errno("open /proc/thread-self/ns/net");
  int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    ::close(home_fd_);
    throw_errno("open " + path);
  }
  int rc = ::setns(target, CLONE_NEWNET);
  ::close(target);
  if (rc != 0) {
    ::close(home_fd_);
    throw_errno("setns " + path);
  }
}

ScopedNetns::~ScopedNetns() {
  if (::setns(home_fd_, CLONE_NEWNET) != 0) std::abort();  // never run the rest of a test in the wrong netns
  ::close(home_fd_);
}

}  // namespace vpcri::test

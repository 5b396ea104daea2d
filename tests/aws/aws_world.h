// tests/aws/world.py from C++: a VPC world (fabric netns with the fake EC2 + IMDS, N node netns)
// brought up for a test and always removed, plus a way to run the calling thread inside a node.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/daemon_fixture.h"

namespace vpcri::test {

inline constexpr const char* kAwsRegion = "us-west-2";
inline constexpr const char* kAwsEc2Endpoint = "https://192.0.2.10";  // in the fabric, TLS with the world's CA
inline constexpr const char* kAwsImdsEndpoint = "http://169.254.169.254";
inline constexpr const char* kAwsVpcCidr = "10.42.0.0/16";

class AwsWorld {
 public:
  // `world.py up <nodes> <extra_args...>`; the test fails (REQUIRE) if it cannot.
  explicit AwsWorld(int nodes, const std::vector<std::string>& extra_args = {});
  ~AwsWorld();  // world.py down: stops the fake, deletes every netns
  AwsWorld(const AwsWorld&) = delete;
  AwsWorld& operator=(const AwsWorld&) = delete;

  const nlohmann::json& info() const { return info_; }
  const nlohmann::json& node(int i) const { return info_.at("nodes").at(i); }
  std::string node_netns(int i) const;  // /run/netns/<name>
  std::string node_ip(int i) const { return node(i).at("primary_ip"); }
  std::string instance_id(int i) const { return node(i).at("id"); }
  std::string ca_file() const { return info_.at("ca_file"); }
  std::string subnet(int i) const { return info_.at("spec").at("subnets").at(i).at("id"); }
  const nlohmann::json& role() const { return info_.at("spec").at("role"); }
  const nlohmann::json& credentials() const { return info_.at("spec").at("credentials"); }

  // POST /_control (see fake_ec2.py): fault injection, call counts; state() is the full dump.
  nlohmann::json control(const nlohmann::json& request) const;
  nlohmann::json state() const { return control({{"dump", true}}).at("state"); }
  // The ENI (DescribeNetworkInterfaces' shape) holding `ip` as a secondary address; null if none.
  nlohmann::json eni_holding(const std::string& ip) const;
  std::vector<nlohmann::json> enis_of(int node) const;  // ENIs attached to that node's instance

 private:
  TempDir tmp_;
  std::string dir_;
  nlohmann::json info_;
};

// Moves the calling thread into a network namespace (setns) until destroyed. Sockets opened
// meanwhile stay in it; other threads are not affected.
class ScopedNetns {
 public:
  explicit ScopedNetns(const std::string& path);
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

 private:
  int home_fd_ = -1;
};

}  // namespace vpcri::test

#include "tests/integration/net_checks.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tests/integration/pods.h"

namespace vpcri::test {

namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void run_ok(const std::vector<std::string>& argv) {
  RunResult r = run(argv);
  std::string cmd;
  for (const auto& a : argv) cmd += a + " ";
  REQUIRE_MESSAGE(r.exit_code == 0, cmd << ": " << r.err << r.out);
}

std::vector<std::string> in_netns(const std::string& path, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {kNsenter, "--net=" + path});
  return argv;
}

bool ping(const std::string& from_netns, const std::string& to) {
  RunResult r = run(in_netns(from_netns, {kBusybox, "ping", "-c1", "-W3", to}));
  if (r.exit_code != 0) MESSAGE("ping " << to << " from " << from_netns << " failed: " << r.out << r.err);
  return r.exit_code == 0;
}

TcpServer::TcpServer(const std::string& netns, int port) {
  std::string code =
      "import socket,sys\n"
      "s=socket.socket()\n"
      "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
      "s.bind(('0.0.0.0'," + std::to_string(port) + "))\n"
      "s.listen(1)\n"
      "open(sys.argv[1],'w').close()\n"
      "s.settimeout(25)\n"
      "c,a=s.accept()\n"
      "c.sendall(c.recv(100))\n"
      "c.close()\n"
      "print(a[0])\n";
  std::string ready = ready_.path() + "/listening";
  result_ = std::async(std::launch::async, [netns, code, ready] {
    return run(in_netns(netns, {"/usr/bin/python3", "-c", code, ready}), 40s);
  });
  for (int i = 0; i < 200 && !stdfs::exists(ready); ++i) std::this_thread::sleep_for(50ms);
  REQUIRE_MESSAGE(stdfs::exists(ready), "TCP server did not start in " << netns);
}

std::string TcpServer::peer() {
  RunResult r = result_.get();
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string nc_send(const std::string& netns, const std::string& ip, int port) {
  RunResult r = run(in_netns(netns, {"/bin/sh", "-c", "echo hello-vpcri | " + kBusybox + " nc -w 5 " + ip + " " +
                                                         std::to_string(port)}),
                    20s);
  return r.out;
}

NodeNet::NodeNet() {
  std::random_device rd;
  tag_ = std::to_string(rd() % 1000000);
  node_ = "vpcri-nw-" + tag_ + "-node";
  outside_ = "vpcri-nw-" + tag_ + "-out";
  run_ok({kIp, "netns", "add", node_});
  run_ok({kIp, "netns", "add", outside_});
  ip(node_, {"link", "set", "lo", "up"});
  ip(outside_, {"link", "set", "lo", "up"});
  ip(node_, {"link", "add", "up0", "type", "veth", "peer", "name", "out0", "netns", outside_});
  ip(node_, {"addr", "add", std::string(kNodeIp) + "/24", "dev", "up0"});
  ip(node_, {"link", "set", "up0", "up"});
  ip(node_, {"route", "add", "default", "via", kOutsideIp});
  ip(outside_, {"addr", "add", std::string(kOutsideIp) + "/24", "dev", "out0"});
  ip(outside_, {"link", "set", "out0", "up"});
  ip(outside_, {"route", "add", "10.99.0.0/24", "via", kNodeIp});
}

NodeNet::~NodeNet() {
  run({kIp, "netns", "delete", node_});
  run({kIp, "netns", "delete", outside_});
}

std::string NodeNet::node_cmd(std::vector<std::string> argv) const {
  RunResult r = run(in_netns(node_path(), std::move(argv)));
  return r.out + r.err;
}

std::vector<std::string> NodeNet::eni_links() const {
  std::vector<std::string> out;
  auto links = nlohmann::json::parse(run({kIp, "-n", node_, "-j", "link", "show"}).out);
  for (const auto& l : links) {
    std::string name = l["ifname"];
    if (name.rfind("eni", 0) == 0) out.push_back(name);
  }
  return out;
}

void NodeNet::ip(const std::string& ns, std::vector<std::string> args) {
  args.insert(args.begin(), {kIp, "-n", ns});
  run_ok(args);
}

v1::PodSandboxConfig pod_config(const std::string& name) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.set_hostname(name);
  return c;
}

std::string pod_ip(Daemon& d, const std::string& id) { return pod_status(d, id).status().network().ip(); }

std::string pod_netns(Daemon& d, const std::string& id) {
  return nlohmann::json::parse(pod_status(d, id).info().at("info")).at("netns").get<std::string>();
}

v1::RuntimeCondition network_condition(Daemon& d) {
  v1::StatusRequest req;
  v1::StatusResponse resp;
  auto s = d.runtime().Status(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  for (const auto& c : resp.status().conditions()) {
    if (c.type() == "NetworkReady") return c;
  }
  FAIL("no NetworkReady condition");
  return {};
}

bool wait_network_ready(Daemon& d, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (network_condition(d).status()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return network_condition(d).status();
}

}  // namespace vpcri::test

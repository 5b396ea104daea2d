// vpcrictl net enis|pods|ipam: vpcrid's introspection API (docs/observability.md) as tables.
// It speaks HTTP to introspection.address, not gRPC: the same answers `curl` gets.
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cri/ctl/commands.h"
#include "cri/ctl/flags.h"
#include "metrics/http_client.h"

namespace vpcri::ctl {
namespace {

using nlohmann::json;

constexpr const char* kDefaultIntrospection = "127.0.0.1:61679";

std::string text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  return v.dump();
}

void print_enis(const json& enis) {
  Table t({"ENI", "DEVICE", "TABLE", "SUBNET", "IP", "STATE", "POD", "SANDBOX"});
  for (const auto& eni : enis) {
    if (eni["ips"].empty()) t.add({text(eni["id"]), text(eni["device_number"]), text(eni["route_table"]),
                                   text(eni["subnet_cidr"]), "-", "-", "-", "-"});
    for (const auto& ip : eni["ips"]) {
      t.add({text(eni["id"]), text(eni["device_number"]), text(eni["route_table"]), text(eni["subnet_cidr"]),
             text(ip["ip"]), text(ip["state"]), ip.contains("pod") ? text(ip["pod"]) : "-",
             ip.contains("sandbox_id") ? truncate_id(ip["sandbox_id"].get<std::string>(), false) : "-"});
    }
  }
  t.print(std::cout);
}

// DATAPATH: "ok" when the kernel holds the pod's routes and rules as vpcrid made them, else
// "drift", with what differs listed under the table.
void print_pods(const json& pods) {
  Table t({"POD ID", "NAMESPACE", "NAME", "STATE", "IP", "HOST VETH", "ENI", "TABLE", "DATAPATH"});
  std::vector<std::string> drifts;
  for (const auto& p : pods) {
    std::string datapath = "-";
    if (p.contains("routing_error")) {
      datapath = "unknown";
      drifts.push_back(text(p["namespace"]) + "/" + text(p["name"]) + ": " + text(p["routing_error"]));
    } else if (p.contains("drift")) {
      datapath = p["drift"].empty() ? "ok" : "drift";
      for (const auto& d : p["drift"]) drifts.push_back(text(p["namespace"]) + "/" + text(p["name"]) + ": " + text(d));
    }
    t.add({truncate_id(p["id"].get<std::string>(), false), text(p["namespace"]), text(p["name"]), text(p["state"]),
           p["host_network"] == true ? "(host)" : text(p["ip"]), p.contains("host_veth") ? text(p["host_veth"]) : "-",
           p.contains("eni") ? text(p["eni"]) : "-", p.contains("route_table") ? text(p["route_table"]) : "-",
           datapath});
  }
  t.print(std::cout);
  if (!drifts.empty()) std::cout << "\n";
  for (const auto& d : drifts) std::cout << d << "\n";
}

void print_ipam(const json& ipam) {
  Table t({"", "VALUE"});
  t.add({"provider", text(ipam["provider"])});
  t.add({"ready", text(ipam["ready"])});
  for (const auto& [k, v] : ipam["targets"].items()) t.add({"target " + k, text(v)});
  for (const auto& [k, v] : ipam["actual"].items()) t.add({"actual " + k, text(v)});
  if (ipam.contains("ip_targets")) {
    for (const auto& [k, v] : ipam["ip_targets"].items()) t.add({"ip targets " + k, text(v)});
  }
  t.add({"next action", text(ipam["next_action"]["action"]) + " (" + text(ipam["next_action"]["why"]) + ")"});
  t.add({"pool manager", text(ipam["pool_manager"]["message"])});
  t.print(std::cout);
}

}  // namespace

int cmd_net(Client&, const Options& opts, const Args& args) {
  Flags flags("net", "net enis|pods|ipam [--address IP:PORT] [-o json]",
              "Show vpcrid's pod networking from its introspection API (introspection.address):\n"
              "  enis  every ENI with its IPs and the pod holding each\n"
              "  pods  each pod's IP, host veth, ENI, route table, and whether the kernel's routes and rules\n"
              "        are as vpcrid made them (-o json: the routes and rules)\n"
              "  ipam  the warm pool's targets against what it holds, and its next step");
  const char* env = std::getenv("VPCRI_INTROSPECTION");
  std::string address = env && *env ? env : kDefaultIntrospection;
  Format format = opts.format;
  flags.add("--address", "IP:PORT", "introspection API (default: $VPCRI_INTROSPECTION or 127.0.0.1:61679)",
            &address);
  flags.add_output(&format);
  auto rest = flags.parse(args);
  if (rest.size() != 1 || (rest[0] != "enis" && rest[0] != "pods" && rest[0] != "ipam")) {
    flags.usage_error("expects one of enis, pods, ipam");
  }
  metrics::HttpAnswer answer = metrics::http_get(address, "/v1/" + rest[0], opts.timeout);
  if (answer.status != 200) {
    throw std::runtime_error("http://" + address + "/v1/" + rest[0] + " answered " + std::to_string(answer.status) +
                             ": " + answer.body);
  }
  json body = json::parse(answer.body);
  if (body.is_object() && body.contains("error")) throw std::runtime_error(body["error"].get<std::string>());
  if (format == Format::json) {
    std::cout << body.dump(2) << "\n";
  } else if (rest[0] == "enis") {
    print_enis(body);
  } else if (rest[0] == "pods") {
    print_pods(body);
  } else {
    print_ipam(body);
  }
  return 0;
}

}  // namespace vpcri::ctl

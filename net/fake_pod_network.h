// An in-memory PodNetworkService for CRI tests: no kernel objects, no root. Hands out IPs from
// a small list, detects host-port conflicts and exhaustion with the same error codes as
// PodNetworks, and records calls so tests can check what the CRI layer asked for.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "net/pod_network.h"

namespace vpcri::net {

class FakePodNetwork : public PodNetworkService {
 public:
  // `capacity` IPs: 10.88.0.2, 10.88.0.3, ...
  explicit FakePodNetwork(int capacity = 8) : capacity_(capacity) {}

  RestoreSummary restore(const std::vector<LiveSandbox>& live) override {
    std::lock_guard lock(mu_);
    RestoreSummary summary;
    for (auto it = attached_.begin(); it != attached_.end();) {
      bool alive = false;
      for (const auto& s : live) alive = alive || s.sandbox_id == it->first;
      if (alive) {
        summary.kept.push_back(it->first);
        ++it;
      } else {
        summary.released.push_back(it->first);
        it = attached_.erase(it);
      }
    }
    for (const auto& s : live) {
      if (!attached_.count(s.sandbox_id)) summary.live_without_ip.push_back(s.sandbox_id);
    }
    restored_ = true;
    return summary;
  }

  AttachResult attach(const AttachRequest& request) override {
    std::lock_guard lock(mu_);
    calls.push_back("attach " + request.sandbox_id);
    if (fail_next_attach) {
      Error e = *fail_next_attach;
      fail_next_attach.reset();
      throw e;
    }
    if (auto it = attached_.find(request.sandbox_id); it != attached_.end()) return it->second.result;
    for (const auto& m : request.port_mappings) {
      if (m.host_port == 0) continue;
      for (const auto& [holder, entry] : attached_) {
        for (const auto& h : entry.ports) {
          bool wildcard = m.host_ip.empty() || h.host_ip.empty() || m.host_ip == "0.0.0.0" || h.host_ip == "0.0.0.0";
          if (h.protocol == m.protocol && h.host_port == m.host_port && (wildcard || h.host_ip == m.host_ip)) {
            throw Error(Errc::already_exists, "host port " + std::string(port_protocol_name(m.protocol)) + " " +
                                                  std::to_string(m.host_port) + " is already taken by sandbox " + holder);
          }
        }
      }
    }
    for (int i = 0; i < capacity_; ++i) {
      IpAddress ip = *IpAddress::parse("10.88.0." + std::to_string(i + 2));
      bool used = false;
      for (const auto& [id, entry] : attached_) used = used || entry.result.ip == ip;
      if (used) continue;
      AttachResult result{ip, host_veth_name(request.pod_namespace, request.pod_name)};
      attached_[request.sandbox_id] = Entry{result, request.port_mappings};
      return result;
    }
    throw Error(Errc::resource_exhausted, "no free IP on this node: " + std::to_string(capacity_) + " of " +
                                              std::to_string(capacity_) + " in use (fake)");
  }

  void detach(const std::string& sandbox_id) override {
    std::lock_guard lock(mu_);
    calls.push_back("detach " + sandbox_id);
    attached_.erase(sandbox_id);
  }

  std::optional<AttachResult> lookup(const std::string& sandbox_id) const override {
    std::lock_guard lock(mu_);
    auto it = attached_.find(sandbox_id);
    if (it == attached_.end()) return std::nullopt;
    return it->second.result;
  }

  bool ready() const override { return restored_ && not_ready_reason_override.empty(); }
  std::string not_ready_reason() const override {
    if (!restored_) return "pod network not initialised yet (fake)";
    return not_ready_reason_override;
  }
  nlohmann::json status() const override {
    std::lock_guard lock(mu_);
    return {{"fake", true}, {"attached", attached_.size()}};
  }

  // Test controls.
  std::vector<std::string> calls;
  std::optional<Error> fail_next_attach;
  std::string not_ready_reason_override;  // non-empty: not ready for this reason

 private:
  struct Entry {
    AttachResult result;
    std::vector<PortMapping> ports;
  };
  const int capacity_;
  mutable std::mutex mu_;
  bool restored_ = false;
  std::map<std::string, Entry> attached_;
};

}  // namespace vpcri::net

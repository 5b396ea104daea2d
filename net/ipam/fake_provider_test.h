// Test-only provider: the local provider plus error injection and call counting, standing in
// for a cloud that throttles, runs out of addresses or refuses ENIs.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "net/ipam/local_provider.h"

namespace vpcri::net::ipam::testing {

class FakeProvider : public Provider {
 public:
  explicit FakeProvider(LocalProviderConfig config) : local_(std::move(config)) {}

  // The next `times` calls of `op` ("describe_node", "list_enis", "create_eni", "assign_ips",
  // "unassign_ips", "delete_eni") fail with `kind`.
  void fail_next(const std::string& op, ProviderErrc kind, int times = 1) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < times; ++i) failures_[op].push_back(kind);
  }
  int calls(const std::string& op) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(op);
    return it == calls_.end() ? 0 : it->second;
  }
  int total_calls() const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [op, count] : calls_) n += count;
    return n;
  }
  LocalProvider& local() { return local_; }

  std::string name() const override { return "fake"; }
  NodeInfo describe_node() override {
    enter("describe_node");
    return local_.describe_node();
  }
  std::vector<EniInfo> list_enis() override {
    enter("list_enis");
    return local_.list_enis();
  }
  EniInfo create_eni() override {
    enter("create_eni");
    return local_.create_eni();
  }
  std::vector<IpAddress> assign_ips(const std::string& eni_id, int count) override {
    enter("assign_ips");
    return local_.assign_ips(eni_id, count);
  }
  void unassign_ips(const std::string& eni_id, const std::vector<IpAddress>& ips) override {
    enter("unassign_ips");
    local_.unassign_ips(eni_id, ips);
  }
  void delete_eni(const std::string& eni_id) override {
    enter("delete_eni");
    local_.delete_eni(eni_id);
  }
  void adopt_enis(const std::vector<EniInfo>& enis) override { local_.adopt_enis(enis); }

 private:
  void enter(const std::string& op) {
    std::lock_guard lock(mu_);
    ++calls_[op];
    auto& queue = failures_[op];
    if (queue.empty()) return;
    ProviderErrc kind = queue.front();
    queue.pop_front();
    throw ProviderError(kind, "injected " + std::string(provider_errc_name(kind)) + " on " + op);
  }

  LocalProvider local_;
  mutable std::mutex mu_;
  std::map<std::string, int> calls_;
  std::map<std::string, std::deque<ProviderErrc>> failures_;
};

}  // namespace vpcri::net::ipam::testing

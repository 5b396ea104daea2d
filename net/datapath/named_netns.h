// A named network namespace, made and removed like `ip netns add/delete NAME`: a new namespace
// bind-mounted on /run/netns/NAME, so `ip -n NAME` and `nsenter --net=/run/netns/NAME` see it.
// Used by tests to build node and pod namespaces; it owns the namespace and deletes it when
// destroyed (the kernel frees the namespace once nothing else holds it).
#pragma once

#include <string>

#include "net/datapath/netns.h"

namespace vpcri::net {

class NamedNetNs {
 public:
  // Throws Errc::already_exists if /run/netns/<name> exists.
  static NamedNetNs create(const std::string& name);
  ~NamedNetNs();
  NamedNetNs(NamedNetNs&& other) noexcept;
  NamedNetNs& operator=(NamedNetNs&&) = delete;
  NamedNetNs(const NamedNetNs&) = delete;
  NamedNetNs& operator=(const NamedNetNs&) = delete;

  const std::string& name() const { return name_; }
  std::string path() const;
  NetNs open() const { return NetNs::open(path()); }

 private:
  explicit NamedNetNs(std::string name) : name_(std::move(name)) {}
  std::string name_;  // empty once moved from
};

}  // namespace vpcri::net

#include "net/eni_links.h"

#include <utility>

#include "common/log.h"

namespace vpcri::net {

namespace {

bool needs_link(const ipam::EniInfo& eni) { return !eni.mac.empty() && eni.device_number > 0; }

bool same_link(const EniLink& a, const EniLink& b) {
  return a.mac == b.mac && a.device_number == b.device_number && a.subnet_cidr == b.subnet_cidr &&
         a.primary_ip == b.primary_ip && a.mtu == b.mtu;
}

}  // namespace

EniLink EniLinks::link_of(const ipam::EniInfo& eni) const {
  EniLink link;
  link.eni_id = eni.id;
  link.mac = eni.mac;
  link.device_number = eni.device_number;
  link.subnet_cidr = eni.subnet_cidr;
  link.primary_ip = eni.primary_ip;
  link.mtu = mtu_;
  return link;
}

void EniLinks::enis_changed(const std::vector<ipam::EniInfo>& enis) {
  std::lock_guard apply(apply_mu_);
  std::map<std::string, ipam::EniInfo> wanted;
  for (const auto& eni : enis) {
    if (needs_link(eni)) wanted[eni.id] = eni;
  }
  const bool restoring = std::exchange(first_report_, false);
  std::vector<std::pair<std::string, EniLink>> known;  // wired or tried: what a teardown may need to undo
  {
    std::lock_guard lock(mu_);
    secondary_ = wanted;  // pods get the ENI's table even while its interface is late
    known.assign(wired_.begin(), wired_.end());
    known.insert(known.end(), unwired_.begin(), unwired_.end());
  }

  // Gone (or changed: an ENI id seen again at another device) first: a new ENI may reuse its table.
  for (const auto& [id, link] : known) {
    auto it = wanted.find(id);
    if (it != wanted.end() && same_link(link, link_of(it->second))) continue;
    try {
      teardown_eni_link(link);
      std::lock_guard lock(mu_);
      if (wired_.count(id) && same_link(wired_[id], link)) wired_.erase(id);
      if (unwired_.count(id) && same_link(unwired_[id], link)) unwired_.erase(id);
    } catch (const std::exception& e) {
      log::warn("removing an ENI's routes and rule failed; retried at the next change", {{"eni", id}, {"error", e.what()}});
    }
  }
  for (const auto& [id, eni] : wanted) {
    EniLink link = link_of(eni);
    {
      std::lock_guard lock(mu_);
      if (wired_.count(id)) continue;
      unwired_[id] = link;
    }
    try {
      setup_eni_link(link, restoring ? std::chrono::milliseconds{0} : wait_timeout_);
      std::lock_guard lock(mu_);
      wired_[id] = link;
      unwired_.erase(id);
    } catch (const std::exception& e) {
      log::warn(restoring ? "an ENI of the checkpoint has no interface (yet); retried at the next reconcile"
                          : "setting up an ENI's interface failed; retried at the next change",
                {{"eni", id}, {"error", e.what()}});
    }
  }
}

std::optional<uint32_t> EniLinks::pod_route_table(const std::string& eni_id) const {
  std::lock_guard lock(mu_);
  auto it = secondary_.find(eni_id);
  if (it == secondary_.end()) return std::nullopt;
  return static_cast<uint32_t>(ipam::eni_route_table(it->second.device_number));
}

std::vector<std::string> EniLinks::wired() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, link] : wired_) ids.push_back(id);
  return ids;
}

}  // namespace vpcri::net

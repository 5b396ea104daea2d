#include "net/datapath/eni_link.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "net/datapath/routing.h"
#include "net/datapath/sysctl.h"
#include "net/datapath/undo_stack.h"

namespace vpcri::net {
namespace {

std::string describe(const EniLink& eni) {
  return "ENI " + (eni.eni_id.empty() ? std::string("?") : eni.eni_id) + " (MAC " + eni.mac + ", device " +
         std::to_string(eni.device_number) + ")";
}

uint32_t route_table(const EniLink& eni) { return static_cast<uint32_t>(eni.device_number) + 1; }

nl::Mac check_spec(const EniLink& eni, const std::string& who) {
  nl::Mac mac = parse_mac(eni.mac);
  if (eni.device_number < 0 || eni.device_number > kMaxEniDeviceNumber) {
    throw Error(Errc::invalid_argument, who + ": device number " + std::to_string(eni.device_number) +
                                            " outside 0-" + std::to_string(kMaxEniDeviceNumber));
  }
  if (eni.device_number == 0) return mac;  // the main table: subnet and IP are not used
  if (eni.subnet_cidr.network.family != AF_INET || eni.subnet_cidr.prefix_len > 30) {
    throw Error(Errc::invalid_argument, who + ": subnet '" + eni.subnet_cidr.to_string() +
                                            "' must be an IPv4 CIDR of at least 4 addresses");
  }
  if (eni.primary_ip.family != AF_INET || !eni.subnet_cidr.contains(eni.primary_ip)) {
    throw Error(Errc::invalid_argument, who + ": primary IP '" + eni.primary_ip.to_string() + "' is not in subnet " +
                                            eni.subnet_cidr.to_string());
  }
  if (eni.mtu < kMinPodMtu || eni.mtu > kMaxPodMtu) {
    throw Error(Errc::invalid_argument, who + ": MTU " + std::to_string(eni.mtu) + " is outside " +
                                            std::to_string(kMinPodMtu) + "-" + std::to_string(kMaxPodMtu));
  }
  return mac;
}

std::optional<EniInterface> find_by_mac(nl_sock* sk, const nl::Mac& mac) {
  nl_cache* raw = nullptr;
  nl::check(rtnl_link_alloc_cache(sk, AF_UNSPEC, &raw), "listing interfaces");
  nl::Cache cache(raw);
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* link = reinterpret_cast<rtnl_link*>(obj);
    nl_addr* addr = rtnl_link_get_addr(link);
    if (!addr || nl_addr_get_len(addr) != mac.size()) continue;
    if (std::memcmp(nl_addr_get_binary_addr(addr), mac.data(), mac.size()) != 0) continue;
    const char* name = rtnl_link_get_name(link);
    return EniInterface{name ? name : "", rtnl_link_get_ifindex(link)};
  }
  return std::nullopt;
}

// A socket subscribed to link events (RTNLGRP_LINK) of the calling thread's netns.
nl::Socket link_events() {
  nl::Socket sk(nl_socket_alloc());
  if (!sk) throw Error(Errc::resource_exhausted, "allocating a netlink socket");
  nl_socket_disable_seq_check(sk.get());
  nl::check(nl_connect(sk.get(), NETLINK_ROUTE), "connecting a netlink socket for link events");
  nl::check(nl_socket_add_membership(sk.get(), RTNLGRP_LINK), "subscribing to link events");
  return sk;
}

// Reads and drops every queued event: the caller looks at the links again anyway, which also
// covers an overflowed queue (ENOBUFS).
void drain(int fd) {
  char buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) throw_errno("reading link events");
    if (n < 0 && errno == ENOBUFS) continue;
    return;
  }
}

void set_mtu_and_up(nl_sock* sk, const EniInterface& link, int mtu) {
  rtnl_link* raw = nullptr;
  nl::check(rtnl_link_get_kernel(sk, link.ifindex, nullptr, &raw), "looking up interface " + link.name);
  nl::Link current(raw);
  nl::Link change(rtnl_link_alloc());
  if (!change) throw Error(Errc::resource_exhausted, "allocating a netlink link");
  rtnl_link_set_mtu(change.get(), static_cast<unsigned>(mtu));
  rtnl_link_set_flags(change.get(), IFF_UP);
  nl::check(rtnl_link_change(sk, current.get(), change.get(), 0),
            "setting " + link.name + " up with MTU " + std::to_string(mtu));
}

struct TableRoute {
  std::string text;  // for messages
  nl::Route route;
};

std::vector<TableRoute> table_routes(const EniLink& eni, const EniInterface& link) {
  uint32_t table = route_table(eni);
  IpAddress gateway = subnet_gateway(eni.subnet_cidr);
  IpAddress any;
  any.family = AF_INET;
  std::string suffix = " dev " + link.name + " table " + std::to_string(table);
  std::vector<TableRoute> routes;
  // The gateway's link route first: the default route's gateway must be reachable when it is added.
  routes.push_back({gateway.to_string() + suffix + " scope link",
                    nl::make_route(gateway, 32, link.ifindex, nullptr, RT_SCOPE_LINK, table)});
  routes.push_back({eni.subnet_cidr.to_string() + suffix + " scope link",
                    nl::make_route(eni.subnet_cidr.network, eni.subnet_cidr.prefix_len, link.ifindex, nullptr,
                                   RT_SCOPE_LINK, table)});
  routes.push_back({"default via " + gateway.to_string() + suffix,
                    nl::make_route(any, 0, link.ifindex, &gateway, RT_SCOPE_UNIVERSE, table)});
  return routes;
}

void delete_route(nl_sock* sk, TableRoute& r) {
  int err = rtnl_route_delete(sk, r.route.get(), 0);
  if (!nl::is_not_found(err)) nl::check(err, "deleting route " + r.text);
}

}  // namespace

nl::Mac parse_mac(const std::string& text) {
  nl::Mac mac{};
  bool ok = text.size() == 17;
  for (size_t i = 0; ok && i < mac.size(); ++i) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    int hi = hex(text[3 * i]), lo = hex(text[3 * i + 1]);
    ok = hi >= 0 && lo >= 0 && (i == 5 || text[3 * i + 2] == ':');
    mac[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  if (!ok) throw Error(Errc::invalid_argument, "invalid MAC address '" + text + "' (want 6 hex pairs separated by ':')");
  return mac;
}

IpAddress subnet_gateway(const Cidr& subnet) {
  if (subnet.network.family != AF_INET) {
    throw Error(Errc::invalid_argument, "subnet gateway: " + subnet.to_string() + " is not IPv4");
  }
  IpAddress gw = subnet.network;
  uint32_t value = (uint32_t{gw.bytes[0]} << 24) | (uint32_t{gw.bytes[1]} << 16) | (uint32_t{gw.bytes[2]} << 8) |
                   gw.bytes[3];
  value += 1;
  for (int i = 0; i < 4; ++i) gw.bytes[i] = static_cast<uint8_t>(value >> (24 - 8 * i));
  return gw;
}

std::optional<EniInterface> find_interface_by_mac(const nl::Mac& mac) {
  auto sk = nl::connect(NETLINK_ROUTE);
  return find_by_mac(sk.get(), mac);
}

EniInterface wait_for_interface_by_mac(const nl::Mac& mac, std::chrono::milliseconds timeout,
                                       const std::function<void()>& on_waiting) {
  // Subscribe before looking: an interface appearing in between is then still reported.
  nl::Socket events = link_events();
  auto sk = nl::connect(NETLINK_ROUTE);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool waited = false;
  for (;;) {
    if (auto link = find_by_mac(sk.get(), mac)) return *link;
    if (on_waiting && !waited) on_waiting();
    waited = true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      throw Error(Errc::deadline_exceeded, "no interface with MAC " + nl::format_mac(mac) +
                                               " appeared in the node network namespace within " +
                                               std::to_string(timeout.count()) + " ms");
    }
    pollfd pfd{nl_socket_get_fd(events.get()), POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count() + 1, 60000)));
    if (n < 0 && errno != EINTR) throw_errno("waiting for link events");
    if (n > 0) drain(pfd.fd);
  }
}

EniInterface setup_eni_link(const EniLink& eni, std::chrono::milliseconds wait_timeout) {
  std::string who = "setting up " + describe(eni);
  nl::Mac mac = check_spec(eni, who);
  EniInterface link;
  try {
    link = wait_for_interface_by_mac(mac, wait_timeout);
    auto sk = nl::connect(NETLINK_ROUTE);
    if (eni.device_number > 0) set_mtu_and_up(sk.get(), link, eni.mtu);
    // Loose: replies for pods on one ENI may arrive on another (connmark, asymmetric paths).
    set_rp_filter_loose(link.name);
    if (eni.device_number > 0) {
      UndoStack undo;
      for (TableRoute& r : table_routes(eni, link)) {
        // EXCL tells "added now" (undo it on failure) from "already there" (a re-apply or a
        // restart: REPLACE asserts our version and the undo leaves it alone).
        int err = rtnl_route_add(sk.get(), r.route.get(), NLM_F_EXCL);
        if (-err == NLE_EXIST) {
          nl::check(rtnl_route_add(sk.get(), r.route.get(), NLM_F_REPLACE), "replacing route " + r.text);
          continue;
        }
        nl::check(err, "adding route " + r.text);
        auto shared = std::make_shared<TableRoute>(std::move(r));
        undo.push("delete route " + shared->text, [&sk, shared] { delete_route(sk.get(), *shared); });
      }
      auto rule = nl::RuleMatch::from(eni.primary_ip);
      if (nl::add_rule(sk.get(), kEniPrimaryIpRulePriority, rule, route_table(eni))) {
        // By value: `rule` is destroyed before `undo` runs.
        undo.push("delete ENI rule", [&sk, rule, table = route_table(eni)] {
          nl::delete_rules(sk.get(), kEniPrimaryIpRulePriority, rule, table);
        });
      }
      undo.commit();
    }
  } catch (const Error& e) {
    throw Error(e.code(), who + ": " + e.what());
  }
  log::info("ENI interface set up", {{"eni", eni.eni_id}, {"interface", link.name}, {"mac", eni.mac},
                                     {"device", std::to_string(eni.device_number)},
                                     {"table", eni.device_number > 0 ? std::to_string(route_table(eni)) : "main"}});
  return link;
}

void teardown_eni_link(const EniLink& eni) {
  std::string who = "tearing down " + describe(eni);
  nl::Mac mac = check_spec(eni, who);
  if (eni.device_number == 0) return;
  try {
    auto sk = nl::connect(NETLINK_ROUTE);
    nl::delete_rules(sk.get(), kEniPrimaryIpRulePriority, nl::RuleMatch::from(eni.primary_ip), route_table(eni));
    // Without the interface its routes are gone already (the kernel drops them with the link).
    if (auto link = find_by_mac(sk.get(), mac)) {
      auto routes = table_routes(eni, *link);
      // Newest first: the default route depends on the gateway's link route.
      for (auto it = routes.rbegin(); it != routes.rend(); ++it) delete_route(sk.get(), *it);
    }
  } catch (const Error& e) {
    throw Error(e.code(), who + ": " + e.what());
  }
  log::info("ENI interface torn down", {{"eni", eni.eni_id}, {"mac", eni.mac},
                                        {"table", std::to_string(route_table(eni))}});
}

}  // namespace vpcri::net

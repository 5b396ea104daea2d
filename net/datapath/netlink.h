// Thin RAII layer over libnl: every libnl object owned by a unique_ptr, every error turned into
// a vpcri::Error naming what was being done. Sockets talk to the netns of the thread that made
// them (a netlink socket is bound to its namespace when created).
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>
#include <netlink/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "net/cidr.h"

namespace vpcri::net::nl {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const {
    if (p) Free(p);
  }
};

using Socket = std::unique_ptr<nl_sock, Deleter<nl_sock, nl_socket_free>>;
using Addr = std::unique_ptr<nl_addr, Deleter<nl_addr, nl_addr_put>>;
using Cache = std::unique_ptr<nl_cache, Deleter<nl_cache, nl_cache_free>>;
using Msg = std::unique_ptr<nl_msg, Deleter<nl_msg, nlmsg_free>>;
using Link = std::unique_ptr<rtnl_link, Deleter<rtnl_link, rtnl_link_put>>;
using Route = std::unique_ptr<rtnl_route, Deleter<rtnl_route, rtnl_route_put>>;
using Rule = std::unique_ptr<rtnl_rule, Deleter<rtnl_rule, rtnl_rule_put>>;
using Neigh = std::unique_ptr<rtnl_neigh, Deleter<rtnl_neigh, rtnl_neigh_put>>;
using IfAddr = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr, rtnl_addr_put>>;

using Mac = std::array<uint8_t, 6>;

// Errc for a (negative) libnl error code: NLE_EXIST -> already_exists, not found -> not_found...
Errc errc_of(int nl_error);
// Throws vpcri::Error "<what>: <libnl message>" when nl_error < 0.
void check(int nl_error, const std::string& what);
// True for the "it is not there" family of errors (ENOENT, ESRCH, ENODEV), which idempotent
// deletes accept.
bool is_not_found(int nl_error);

// A connected socket for `protocol` (NETLINK_ROUTE, NETLINK_NETFILTER) in the calling thread's netns.
Socket connect(int protocol);

Addr ip_addr(const IpAddress& ip, int prefix_len);
std::string format_mac(const Mac& mac);
// A random unicast, locally administered MAC (as the AWS CNI gives host veths).
Mac random_mac();

// Link helpers (NETLINK_ROUTE socket).
// Deletes the link; returns false if it did not exist.
bool delete_link(nl_sock* sk, const std::string& name);

}  // namespace vpcri::net::nl

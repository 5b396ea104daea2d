#include "net/datapath/netlink.h"

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>

namespace vpcri::net::nl {

Errc errc_of(int nl_error) {
  switch (-nl_error) {
    case NLE_EXIST: return Errc::already_exists;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV: return Errc::not_found;
    case NLE_INVAL:
    case NLE_RANGE:
    case NLE_MSGSIZE: return Errc::invalid_argument;
    case NLE_NOMEM: return Errc::resource_exhausted;
    case NLE_PERM:
    case NLE_NOACCESS: return Errc::failed_precondition;
    case NLE_BUSY:
    case NLE_AGAIN: return Errc::unavailable;
    default: return Errc::internal;
  }
}

void check(int nl_error, const std::string& what) {
  if (nl_error < 0) throw Error(errc_of(nl_error), what + ": " + nl_geterror(nl_error));
}

bool is_not_found(int nl_error) { return -nl_error == NLE_OBJ_NOTFOUND || -nl_error == NLE_NODEV; }

Socket connect(int protocol) {
  Socket sk(nl_socket_alloc());
  if (!sk) throw Error(Errc::resource_exhausted, "allocating a netlink socket");
  check(nl_connect(sk.get(), protocol), "connecting netlink socket (protocol " + std::to_string(protocol) + ")");
  return sk;
}

Addr ip_addr(const IpAddress& ip, int prefix_len) {
  size_t size = ip.family == AF_INET ? 4 : 16;
  Addr a(nl_addr_build(ip.family, ip.bytes.data(), size));
  if (!a) throw Error(Errc::resource_exhausted, "allocating a netlink address");
  nl_addr_set_prefixlen(a.get(), prefix_len);
  return a;
}

std::string format_mac(const Mac& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return buf;
}

Mac random_mac() {
  Mac mac{};
  if (::getrandom(mac.data(), mac.size(), 0) != static_cast<ssize_t>(mac.size())) throw_errno("getrandom for a MAC");
  mac[0] = static_cast<uint8_t>((mac[0] & 0xfe) | 0x02);  // unicast, locally administered
  return mac;
}

bool delete_link(nl_sock* sk, const std::string& name) {
  Link link(rtnl_link_alloc());
  if (!link) throw Error(Errc::resource_exhausted, "allocating a netlink link");
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_delete(sk, link.get());
  if (is_not_found(err)) return false;
  check(err, "deleting interface " + name);
  return true;
}

}  // namespace vpcri::net::nl

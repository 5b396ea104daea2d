#include "net/datapath/conntrack.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netlink/attr.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "net/datapath/netlink.h"

namespace vpcri::net {
namespace {

// What a delete needs to name an entry exactly: its original tuple as the kernel sent it (zone
// included), plus zone and id so a newer entry reusing the tuple is not hit.
struct DumpedEntry {
  ConntrackEntry entry;
  std::vector<uint8_t> orig_tuple;
  std::optional<std::vector<uint8_t>> zone;
  std::optional<std::vector<uint8_t>> id;
};

struct DumpState {
  int family = AF_INET;
  std::vector<IpAddress> ips;  // of `family`
  std::vector<DumpedEntry> matches;
  std::exception_ptr error;
};

std::vector<uint8_t> payload(nlattr* attr) {
  auto* data = static_cast<const uint8_t*>(nla_data(attr));
  return {data, data + nla_len(attr)};
}

// Fills src/dst/protocol from a CTA_TUPLE_* attribute; false if it is not of the expected shape.
bool parse_tuple(nlattr* tuple, int family, IpAddress& src, IpAddress& dst, int& protocol) {
  nlattr* t[CTA_TUPLE_MAX + 1] = {};
  if (nla_parse_nested(t, CTA_TUPLE_MAX, tuple, nullptr) < 0 || !t[CTA_TUPLE_IP]) return false;
  nlattr* ip[CTA_IP_MAX + 1] = {};
  if (nla_parse_nested(ip, CTA_IP_MAX, t[CTA_TUPLE_IP], nullptr) < 0) return false;
  int src_type = family == AF_INET ? CTA_IP_V4_SRC : CTA_IP_V6_SRC;
  int dst_type = family == AF_INET ? CTA_IP_V4_DST : CTA_IP_V6_DST;
  int size = family == AF_INET ? 4 : 16;
  if (!ip[src_type] || !ip[dst_type] || nla_len(ip[src_type]) != size || nla_len(ip[dst_type]) != size) return false;
  src.family = dst.family = family;
  std::memcpy(src.bytes.data(), nla_data(ip[src_type]), static_cast<size_t>(size));
  std::memcpy(dst.bytes.data(), nla_data(ip[dst_type]), static_cast<size_t>(size));
  if (t[CTA_TUPLE_PROTO]) {
    nlattr* proto[CTA_PROTO_MAX + 1] = {};
    if (nla_parse_nested(proto, CTA_PROTO_MAX, t[CTA_TUPLE_PROTO], nullptr) >= 0 && proto[CTA_PROTO_NUM]) {
      protocol = nla_get_u8(proto[CTA_PROTO_NUM]);
    }
  }
  return true;
}

int on_dumped_entry(nl_msg* msg, void* arg) {
  auto* state = static_cast<DumpState*>(arg);
  try {
    nlattr* tb[CTA_MAX + 1] = {};
    if (nlmsg_parse(nlmsg_hdr(msg), sizeof(nfgenmsg), tb, CTA_MAX, nullptr) < 0) return NL_SKIP;
    if (!tb[CTA_TUPLE_ORIG] || !tb[CTA_TUPLE_REPLY]) return NL_SKIP;
    DumpedEntry d;
    int family = state->family;
    int reply_protocol = 0;
    if (!parse_tuple(tb[CTA_TUPLE_ORIG], family, d.entry.orig_src, d.entry.orig_dst, d.entry.protocol) ||
        !parse_tuple(tb[CTA_TUPLE_REPLY], family, d.entry.reply_src, d.entry.reply_dst, reply_protocol)) {
      return NL_SKIP;
    }
    auto named = [&](const IpAddress& ip) {
      return d.entry.orig_src == ip || d.entry.orig_dst == ip || d.entry.reply_src == ip || d.entry.reply_dst == ip;
    };
    if (std::none_of(state->ips.begin(), state->ips.end(), named)) return NL_OK;
    d.orig_tuple = payload(tb[CTA_TUPLE_ORIG]);
    if (tb[CTA_ZONE]) d.zone = payload(tb[CTA_ZONE]);
    if (tb[CTA_ID]) d.id = payload(tb[CTA_ID]);
    state->matches.push_back(std::move(d));
  } catch (...) {
    state->error = std::current_exception();
    return NL_STOP;
  }
  return NL_OK;
}

nl::Msg ctnetlink_request(uint8_t type, int flags, int family) {
  nl::Msg msg(nlmsg_alloc_simple((NFNL_SUBSYS_CTNETLINK << 8) | type, flags));
  if (!msg) throw Error(Errc::resource_exhausted, "allocating a ctnetlink message");
  nfgenmsg header{};
  header.nfgen_family = static_cast<uint8_t>(family);
  header.version = NFNETLINK_V0;
  nl::check(nlmsg_append(msg.get(), &header, sizeof header, NLMSG_ALIGNTO), "building a ctnetlink message");
  return msg;
}

void check_ip(const IpAddress& ip, const char* what) {
  if (ip.family != AF_INET && ip.family != AF_INET6) {
    throw Error(Errc::invalid_argument, std::string(what) + ": no IP address given");
  }
}

std::vector<DumpedEntry> dump_matching(nl_sock* sk, int family, const std::vector<IpAddress>& ips) {
  DumpState state{family, ips, {}, nullptr};
  // A callback set local to this dump, so nothing on the socket points at `state` afterwards.
  std::unique_ptr<nl_cb, nl::Deleter<nl_cb, nl_cb_put>> cb(nl_socket_get_cb(sk));
  if (!cb) throw Error(Errc::internal, "getting the netlink socket's callbacks");
  std::unique_ptr<nl_cb, nl::Deleter<nl_cb, nl_cb_put>> local(nl_cb_clone(cb.get()));
  if (!local) throw Error(Errc::resource_exhausted, "allocating netlink callbacks");
  nl::check(nl_cb_set(local.get(), NL_CB_VALID, NL_CB_CUSTOM, on_dumped_entry, &state), "setting a netlink callback");
  auto msg = ctnetlink_request(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, family);
  std::string what = "dumping conntrack entries for " + ips.front().to_string() +
                     (ips.size() > 1 ? " and " + std::to_string(ips.size() - 1) + " more" : "");
  nl::check(nl_send_auto(sk, msg.get()), what);
  int err = nl_recvmsgs(sk, local.get());
  if (state.error) std::rethrow_exception(state.error);
  nl::check(err, what);
  return std::move(state.matches);
}

nl::Socket connect_ctnetlink() {
  auto sk = nl::connect(NETLINK_NETFILTER);
  nl_socket_enable_msg_peek(sk.get());  // size receive buffers to the message: dumps can be large
  return sk;
}

}  // namespace

std::vector<ConntrackEntry> list_conntrack(const IpAddress& ip) {
  check_ip(ip, "listing conntrack entries");
  auto sk = connect_ctnetlink();
  std::vector<ConntrackEntry> entries;
  for (auto& d : dump_matching(sk.get(), ip.family, {ip})) entries.push_back(d.entry);
  return entries;
}

size_t flush_conntrack(const IpAddress& ip) { return flush_conntrack(std::vector<IpAddress>{ip}); }

size_t flush_conntrack(const std::vector<IpAddress>& ips) {
  for (const auto& ip : ips) check_ip(ip, "flushing conntrack entries");
  if (ips.empty()) return 0;
  auto sk = connect_ctnetlink();
  size_t deleted = 0;
  for (int family : {AF_INET, AF_INET6}) {
    std::vector<IpAddress> of_family;
    std::copy_if(ips.begin(), ips.end(), std::back_inserter(of_family), [&](const IpAddress& ip) { return ip.family == family; });
    if (of_family.empty()) continue;
    for (const auto& d : dump_matching(sk.get(), family, of_family)) {
      auto msg = ctnetlink_request(IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, family);
      nl::check(nla_put(msg.get(), CTA_TUPLE_ORIG | NLA_F_NESTED, static_cast<int>(d.orig_tuple.size()), d.orig_tuple.data()),
                "building a conntrack delete");
      if (d.zone) nl::check(nla_put(msg.get(), CTA_ZONE, static_cast<int>(d.zone->size()), d.zone->data()), "building a conntrack delete");
      if (d.id) nl::check(nla_put(msg.get(), CTA_ID, static_cast<int>(d.id->size()), d.id->data()), "building a conntrack delete");
      std::string what = "deleting conntrack entry " + d.entry.orig_src.to_string() + " -> " + d.entry.orig_dst.to_string();
      nl::check(nl_send_auto(sk.get(), msg.get()), what);
      int err = nl_wait_for_ack(sk.get());
      if (nl::is_not_found(err)) continue;  // expired or deleted meanwhile
      nl::check(err, what);
      ++deleted;
    }
  }
  return deleted;
}

}  // namespace vpcri::net

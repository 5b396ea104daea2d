#include "net/datapath/rtnl_batch.h"

#include <linux/rtnetlink.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace vpcri::net::rtnl {
namespace {

size_t align(size_t n) { return (n + 3) & ~size_t{3}; }  // NLMSG_ALIGN and RTA_ALIGN alike

}  // namespace

Socket Socket::open() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) throw_errno("opening a NETLINK_ROUTE socket");
  int on = 1;
  // Short ACKs (no copy of the request) with the kernel's own error text, when it has one.
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) != 0) {
    throw_errno("connecting a NETLINK_ROUTE socket");
  }
  uint32_t seq = 0;
  (void)::getrandom(&seq, sizeof seq, GRND_NONBLOCK);  // any start will do; random avoids stale matches
  return Socket(std::move(fd), seq & 0x7fffffff);
}

Socket Socket::open_in(const NetNs& ns) {
  return run_in_netns(ns, [] { return open(); });
}

void Batch::begin(uint16_t type, uint16_t flags, const void* header, size_t size, std::string step) {
  current_ = buf_.size();
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
  h.nlmsg_seq = static_cast<uint32_t>(steps_.size());  // made absolute in send()
  append(&h, sizeof h);
  append(header, size);
  steps_.push_back(std::move(step));
}

void Batch::attr(uint16_t type, const void* data, size_t size) {
  rtattr a{};
  a.rta_type = type;
  a.rta_len = static_cast<uint16_t>(sizeof a + size);
  append(&a, sizeof a);
  append(data, size);
}

void Batch::attr(uint16_t type, std::string_view text) {
  std::string with_nul(text);
  attr(type, with_nul.c_str(), with_nul.size() + 1);
}

size_t Batch::nest_begin(uint16_t type) {
  size_t at = buf_.size();
  attr(type, nullptr, 0);
  return at;
}

void Batch::nest_end(size_t at) {
  uint16_t len = static_cast<uint16_t>(buf_.size() - at);
  std::memcpy(buf_.data() + at + offsetof(rtattr, rta_len), &len, sizeof len);
}

void Batch::raw(const void* data, size_t size) { append(data, size); }

void Batch::append(const void* data, size_t size) {
  if (size) buf_.insert(buf_.end(), static_cast<const char*>(data), static_cast<const char*>(data) + size);
  buf_.resize(align(buf_.size()));
  auto len = static_cast<uint32_t>(buf_.size() - current_);
  std::memcpy(buf_.data() + current_ + offsetof(nlmsghdr, nlmsg_len), &len, sizeof len);
}

std::vector<Answer> Batch::send(Socket& sk) const {
  std::vector<Answer> answers(steps_.size());
  if (steps_.empty()) return answers;
  // Sequence numbers: request i gets base + i, so answers map back to their step.
  std::vector<char> out = buf_;
  uint32_t base = sk.next_seq();
  for (size_t i = 1; i < steps_.size(); ++i) sk.next_seq();
  for (size_t off = 0; off + sizeof(nlmsghdr) <= out.size();) {
    nlmsghdr h;
    std::memcpy(&h, out.data() + off, sizeof h);
    h.nlmsg_seq += base;
    std::memcpy(out.data() + off, &h, sizeof h);
    off += align(h.nlmsg_len);
  }
  ssize_t sent;
  do {
    sent = ::send(sk.fd(), out.data(), out.size(), 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) throw_errno("sending netlink requests (" + steps_.front() + ", ...)");

  size_t acked = 0;
  std::vector<char> in(64 * 1024);
  while (acked < steps_.size()) {
    ssize_t n = ::recv(sk.fd(), in.data(), in.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("reading netlink answers (" + steps_.front() + ", ...)");
    auto size = static_cast<size_t>(n);
    for (size_t off = 0; off + sizeof(nlmsghdr) <= size;) {
      nlmsghdr h;
      std::memcpy(&h, in.data() + off, sizeof h);
      if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > size) break;
      uint32_t index = h.nlmsg_seq - base;
      if (index < steps_.size()) {
        Answer& a = answers[index];
        if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= align(sizeof h) + sizeof(nlmsgerr)) {
          nlmsgerr err;
          std::memcpy(&err, in.data() + off + align(sizeof h), sizeof err);
          a.error = err.error;
          if (err.error != 0 && (h.nlmsg_flags & NLM_F_ACK_TLVS)) {
            // CAP_ACK: the TLVs follow the error and the bare request header.
            size_t tlv = align(sizeof h) + sizeof(nlmsgerr);
            if (tlv <= h.nlmsg_len) {
              Attrs attrs = Attrs::parse_nested(in.data() + off + tlv, h.nlmsg_len - tlv);
              if (auto text = attrs.str(NLMSGERR_ATTR_MSG)) a.kernel_message = *text;
            }
          }
          ++acked;
        } else if (h.nlmsg_type >= RTM_BASE && a.reply.empty()) {
          a.reply.assign(in.data() + off, in.data() + off + h.nlmsg_len);
        }
      }
      off += align(h.nlmsg_len);
    }
  }
  return answers;
}

bool is_not_found(int error) { return error == -ENOENT || error == -ESRCH || error == -ENODEV; }

void check(const Batch& batch, const std::vector<Answer>& answers, std::initializer_list<int> tolerated) {
  for (size_t i = 0; i < answers.size(); ++i) {
    int error = answers[i].error;
    if (error == 0 || std::find(tolerated.begin(), tolerated.end(), error) != tolerated.end()) continue;
    std::string what = batch.step(i) + ": " + std::strerror(-error);
    if (!answers[i].kernel_message.empty()) what += " (" + answers[i].kernel_message + ")";
    throw Error(errc_from_errno(-error), what);
  }
}

Attrs Attrs::parse(const std::vector<char>& message, size_t header_size) {
  size_t start = align(sizeof(nlmsghdr)) + align(header_size);
  if (message.size() < start) return {};
  return parse_nested(message.data() + start, message.size() - start);
}

Attrs Attrs::parse_nested(const void* data, size_t size) {
  Attrs out;
  const char* p = static_cast<const char*>(data);
  for (size_t off = 0; off + sizeof(rtattr) <= size;) {
    rtattr a;
    std::memcpy(&a, p + off, sizeof a);
    if (a.rta_len < sizeof a || off + a.rta_len > size) break;
    out.entries.push_back({static_cast<uint16_t>(a.rta_type & NLA_TYPE_MASK), p + off + sizeof a, a.rta_len - sizeof a});
    off += align(a.rta_len);
  }
  return out;
}

const void* Attrs::data(uint16_t type) const {
  for (const auto& e : entries) {
    if (e.type == type) return e.data;
  }
  return nullptr;
}

size_t Attrs::len(uint16_t type) const {
  for (const auto& e : entries) {
    if (e.type == type) return e.len;
  }
  return 0;
}

std::optional<uint32_t> Attrs::u32(uint16_t type) const {
  if (!data(type) || len(type) < sizeof(uint32_t)) return std::nullopt;
  uint32_t v;
  std::memcpy(&v, data(type), sizeof v);
  return v;
}

std::optional<uint8_t> Attrs::u8(uint16_t type) const {
  if (!data(type) || len(type) < 1) return std::nullopt;
  return *static_cast<const uint8_t*>(data(type));
}

std::optional<std::string> Attrs::str(uint16_t type) const {
  const char* p = static_cast<const char*>(data(type));
  if (!p) return std::nullopt;
  return std::string(p, strnlen(p, len(type)));
}

}  // namespace vpcri::net::rtnl

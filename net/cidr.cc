#include "net/cidr.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>

namespace vpcri::net {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress ip;
  if (::inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) {
    ip.family = AF_INET;
    return ip;
  }
  if (::inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
    ip.family = AF_INET6;
    return ip;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<Cidr> {
    if (why) *why = reason;
    return std::nullopt;
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return fail("missing /prefix-length");
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return fail("not an IPv4 or IPv6 address");
  auto len_text = text.substr(slash + 1);
  int len = -1;
  auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  int max_len = ip->family == AF_INET ? 32 : 128;
  if (ec != std::errc() || ptr != len_text.data() + len_text.size() || len < 0 || len > max_len) {
    return fail("prefix length must be a number from 0 to " + std::to_string(max_len));
  }
  Cidr c{*ip, len};
  size_t nbytes = ip->family == AF_INET ? 4 : 16;
  for (size_t i = 0; i < nbytes; ++i) {
    int bits_in_prefix = std::max(0, std::min(8, len - static_cast<int>(i) * 8));
    uint8_t host_mask = static_cast<uint8_t>(0xffu >> bits_in_prefix);
    if (bits_in_prefix == 8) host_mask = 0;
    if (ip->bytes[i] & host_mask) return fail("host bits are set (did you mean the network address?)");
  }
  return c;
}

std::string Cidr::to_string() const { return network.to_string() + "/" + std::to_string(prefix_len); }

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.family != network.family) return false;
  int remaining = prefix_len;
  for (size_t i = 0; remaining > 0; ++i, remaining -= 8) {
    uint8_t mask = remaining >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - remaining));
    if ((ip.bytes[i] & mask) != (network.bytes[i] & mask)) return false;
  }
  return true;
}

}  // namespace vpcri::net

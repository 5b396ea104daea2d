// IP prefixes (IPv4 and IPv6) as small value types.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vpcri::net {

struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};

  static std::optional<IpAddress> parse(std::string_view text);
  std::string to_string() const;
  bool operator==(const IpAddress&) const = default;
};

struct Cidr {
  IpAddress network;  // host bits are zero
  int prefix_len = 0;

  // Parses "a.b.c.d/n" or "x::/n". Host bits set ("10.0.0.1/24") are refused: a pod CIDR with
  // host bits is almost always a typo, and silently masking it hides that.
  static std::optional<Cidr> parse(std::string_view text, std::string* why = nullptr);
  std::string to_string() const;
  bool contains(const IpAddress& ip) const;
  bool operator==(const Cidr&) const = default;
};

}  // namespace vpcri::net

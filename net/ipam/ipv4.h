// Address arithmetic and ordering that net/cidr.h leaves out: IPv4 addresses as 32-bit numbers
// (the local provider carves a range by offset) and a total order so addresses can key sorted
// containers (lowest address first, which keeps allocation deterministic).
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <cstdint>

#include "net/cidr.h"

namespace vpcri::net::ipam {

inline uint32_t ipv4_to_u32(const IpAddress& ip) {
  return (uint32_t{ip.bytes[0]} << 24) | (uint32_t{ip.bytes[1]} << 16) | (uint32_t{ip.bytes[2]} << 8) |
         uint32_t{ip.bytes[3]};
}

inline IpAddress ipv4_from_u32(uint32_t value) {
  IpAddress ip;
  ip.family = AF_INET;
  ip.bytes[0] = static_cast<uint8_t>(value >> 24);
  ip.bytes[1] = static_cast<uint8_t>(value >> 16);
  ip.bytes[2] = static_cast<uint8_t>(value >> 8);
  ip.bytes[3] = static_cast<uint8_t>(value);
  return ip;
}

// Number of addresses in an IPv4 CIDR (2^32 for /0 does not fit 32 bits, hence 64).
inline uint64_t ipv4_cidr_size(const Cidr& cidr) { return uint64_t{1} << (32 - cidr.prefix_len); }

// Orders by family, then numerically (so 10.0.0.9 < 10.0.0.10, unlike their text).
struct IpLess {
  bool operator()(const IpAddress& a, const IpAddress& b) const {
    if (a.family != b.family) return a.family < b.family;
    return std::lexicographical_compare(a.bytes.begin(), a.bytes.end(), b.bytes.begin(), b.bytes.end());
  }
};

}  // namespace vpcri::net::ipam

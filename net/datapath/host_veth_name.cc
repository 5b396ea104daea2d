#include "net/datapath/host_veth_name.h"

#include <nettle/sha1.h>

#include <array>
#include <cctype>

#include "common/error.h"

namespace vpcri::net {
namespace {

constexpr size_t kHashChars = 11;
constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1

void check_prefix(std::string_view prefix) {
  auto bad = [&](const std::string& why) {
    throw Error(Errc::invalid_argument, "invalid host veth prefix '" + std::string(prefix) + "': " + why);
  };
  if (prefix.empty()) bad("it must not be empty");
  if (prefix.size() + kHashChars > kMaxInterfaceName) {
    bad("at most " + std::to_string(kMaxInterfaceName - kHashChars) + " characters fit in an interface name");
  }
  for (char c : prefix) {
    if (!std::isalnum(static_cast<unsigned char>(c))) bad("only letters and digits are allowed");
  }
  if (prefix == "eth" || prefix == "lo" || prefix == "vlan") bad("it would collide with the node's own interfaces");
}

}  // namespace

std::string host_veth_name(std::string_view pod_namespace, std::string_view pod_name, std::string_view prefix) {
  check_prefix(prefix);
  std::string key = std::string(pod_namespace) + "." + std::string(pod_name);
  // Nettle, as for image digests (runtime/registry/digest.cc): no OpenSSL provider to load.
  std::array<uint8_t, SHA1_DIGEST_SIZE> digest{};
  sha1_ctx sha1;
  sha1_init(&sha1);
  sha1_update(&sha1, key.size(), reinterpret_cast<const uint8_t*>(key.data()));
  sha1_digest(&sha1, digest.size(), digest.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name(prefix);
  for (size_t i = 0; name.size() < prefix.size() + kHashChars; ++i) {
    name += kHex[digest[i] >> 4];
    if (name.size() < prefix.size() + kHashChars) name += kHex[digest[i] & 0xf];
  }
  return name;
}

}  // namespace vpcri::net

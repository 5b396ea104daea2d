#include "net/datapath/host_veth_name.h"

#include <openssl/evp.h>

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
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_len = 0;
  if (EVP_Digest(key.data(), key.size(), digest.data(), &digest_len, EVP_sha1(), nullptr) != 1) {
    throw Error(Errc::internal, "computing sha1 for host veth name of pod " + key + " failed in OpenSSL");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name(prefix);
  for (size_t i = 0; name.size() < prefix.size() + kHashChars; ++i) {
    name += kHex[digest[i] >> 4];
    if (name.size() < prefix.size() + kHashChars) name += kHex[digest[i] & 0xf];
  }
  return name;
}

}  // namespace vpcri::net

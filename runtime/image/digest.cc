#include "runtime/image/digest.h"

#include <sys/random.h>

#include <cerrno>

#include <vector>

#include "common/error.h"
#include "common/text.h"

namespace vpcri::runtime::image {

std::string sha256_digest(std::string_view data) { return registry::digest_of(data, "sha256"); }

bool is_valid_digest(std::string_view digest) {
  constexpr std::string_view prefix = "sha256:";
  if (digest.size() != prefix.size() + 64 || digest.substr(0, prefix.size()) != prefix) return false;
  for (char c : digest.substr(prefix.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

void check_digest(std::string_view digest, std::string_view what) {
  if (is_valid_digest(digest)) return;
  std::string shown(digest.substr(0, 100));
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  throw Error(Errc::invalid_argument, std::string(what) + ": invalid digest \"" + shown +
                                          "\" (expected \"sha256:\" followed by 64 lowercase hex digits)");
}

std::string digest_hex(std::string_view digest) {
  check_digest(digest, "digest");
  return std::string(digest.substr(7));
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  // The kernel's generator: OpenSSL's would load its provider (megabytes) for a file name.
  for (size_t got = 0; got < raw.size();) {
    ssize_t n = ::getrandom(raw.data() + got, raw.size() - got, 0);
    if (n < 0 && errno != EINTR) throw_errno("getrandom");
    if (n > 0) got += static_cast<size_t>(n);
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

}  // namespace vpcri::runtime::image

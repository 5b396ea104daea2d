#include "runtime/registry/digest.h"

#include <nettle/sha2.h>

#include <variant>

#include "common/error.h"

namespace vpcri::runtime::registry {

// Nettle rather than OpenSSL: OpenSSL 3's first EVP digest loads its default provider, ~2 MB of
// the daemon's resident memory for good, to hash what nettle hashes as fast (SHA-NI either way).
struct DigestHasher::Ctx {
  std::variant<sha256_ctx, sha512_ctx> state;
};

bool is_valid_digest(std::string_view digest) {
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view algorithm = digest.substr(0, colon), hex = digest.substr(colon + 1);
  size_t want = algorithm == "sha256" ? 64 : algorithm == "sha512" ? 128 : 0;
  if (want == 0 || hex.size() != want) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

DigestHasher::DigestHasher(std::string_view algorithm) : algorithm_(algorithm), ctx_(std::make_unique<Ctx>()) {
  if (algorithm == "sha256") {
    sha256_init(&ctx_->state.emplace<sha256_ctx>());
  } else if (algorithm == "sha512") {
    sha512_init(&ctx_->state.emplace<sha512_ctx>());
  } else {
    throw Error(Errc::invalid_argument, "unsupported digest algorithm \"" + algorithm_ + "\"");
  }
}

DigestHasher::~DigestHasher() = default;
DigestHasher::DigestHasher(DigestHasher&&) noexcept = default;
DigestHasher& DigestHasher::operator=(DigestHasher&&) noexcept = default;

void DigestHasher::update(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (auto* sha256 = std::get_if<sha256_ctx>(&ctx_->state)) {
    sha256_update(sha256, size, bytes);
  } else {
    sha512_update(&std::get<sha512_ctx>(ctx_->state), size, bytes);
  }
}

std::string DigestHasher::finish() {
  uint8_t raw[SHA512_DIGEST_SIZE];
  size_t length = 0;
  if (auto* sha256 = std::get_if<sha256_ctx>(&ctx_->state)) {
    length = SHA256_DIGEST_SIZE;
    sha256_digest(sha256, length, raw);
  } else {
    length = SHA512_DIGEST_SIZE;
    sha512_digest(&std::get<sha512_ctx>(ctx_->state), length, raw);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = algorithm_ + ":";
  for (size_t i = 0; i < length; ++i) {
    out += kHex[raw[i] >> 4];
    out += kHex[raw[i] & 0xF];
  }
  return out;
}

std::string digest_of(std::string_view data, std::string_view algorithm) {
  DigestHasher hasher(algorithm);
  hasher.update(data);
  return hasher.finish();
}

}  // namespace vpcri::runtime::registry

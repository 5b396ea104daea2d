#include "runtime/registry/digest.h"

#include <openssl/evp.h>

#include "common/error.h"

namespace vpcri::runtime::registry {

struct DigestHasher::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
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
  const EVP_MD* md = algorithm == "sha256" ? EVP_sha256() : algorithm == "sha512" ? EVP_sha512() : nullptr;
  if (!md) throw Error(Errc::invalid_argument, "unsupported digest algorithm \"" + algorithm_ + "\"");
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, md, nullptr) != 1) {
    throw Error(Errc::internal, "cannot initialize " + algorithm_ + " hashing");
  }
}

DigestHasher::~DigestHasher() = default;
DigestHasher::DigestHasher(DigestHasher&&) noexcept = default;
DigestHasher& DigestHasher::operator=(DigestHasher&&) noexcept = default;

void DigestHasher::update(const void* data, size_t size) {
  if (EVP_DigestUpdate(ctx_->md, data, size) != 1) throw Error(Errc::internal, algorithm_ + " update failed");
}

std::string DigestHasher::finish() {
  unsigned char raw[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx_->md, raw, &length) != 1) throw Error(Errc::internal, algorithm_ + " final failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = algorithm_ + ":";
  for (unsigned int i = 0; i < length; ++i) {
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

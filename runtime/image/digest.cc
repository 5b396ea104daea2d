#include "runtime/image/digest.h"

#include <openssl/rand.h>

#include <vector>

#include "common/error.h"

namespace vpcri::runtime::image {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
    throw Error(Errc::internal, "OpenSSL: cannot initialize a SHA-256 context");
}

void Sha256::update(const void* data, size_t size) {
  if (finished_) throw Error(Errc::internal, "Sha256::update after finish");
  if (size == 0) return;
  if (EVP_DigestUpdate(ctx_.get(), data, size) != 1) throw Error(Errc::internal, "OpenSSL: SHA-256 update failed");
}

std::string Sha256::finish() {
  if (finished_) throw Error(Errc::internal, "Sha256::finish called twice");
  finished_ = true;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1) throw Error(Errc::internal, "OpenSSL: SHA-256 final failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

std::string sha256_digest(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

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
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw Error(Errc::internal, "OpenSSL: RAND_bytes failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out += hex[b >> 4];
    out += hex[b & 0xf];
  }
  return out;
}

}  // namespace vpcri::runtime::image

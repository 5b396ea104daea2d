// SHA-256 content digests in the OCI form "sha256:<64 lowercase hex>": streaming hashing and
// validation. Only sha256 is accepted: it is what every registry and image format uses.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace vpcri::runtime::image {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Returns "sha256:<hex>"; the hasher cannot be updated afterwards.
  std::string finish();

 private:
  struct CtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx_;
  bool finished_ = false;
};

std::string sha256_digest(std::string_view data);

bool is_valid_digest(std::string_view digest);

// Throws Error(invalid_argument) "<what>: invalid digest ..." unless `digest` is valid.
void check_digest(std::string_view digest, std::string_view what);

// The hex part of a valid digest (for file names).
std::string digest_hex(std::string_view digest);

// `bytes` random bytes as hex, for temporary file names.
std::string random_hex(size_t bytes);

}  // namespace vpcri::runtime::image

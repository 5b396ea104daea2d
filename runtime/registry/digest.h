// Content digests as OCI writes them ("sha256:<64 hex>", "sha512:<128 hex>"), computed with
// OpenSSL's EVP. Incremental, so blobs can be hashed while they stream.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace vpcri::runtime::registry {

// True for "sha256:<64 lower-case hex>" and "sha512:<128 lower-case hex>".
bool is_valid_digest(std::string_view digest);

class DigestHasher {
 public:
  // `algorithm`: "sha256" or "sha512"; anything else throws Error(invalid_argument).
  explicit DigestHasher(std::string_view algorithm = "sha256");
  ~DigestHasher();
  DigestHasher(const DigestHasher&) = delete;
  DigestHasher& operator=(const DigestHasher&) = delete;
  DigestHasher(DigestHasher&&) noexcept;
  DigestHasher& operator=(DigestHasher&&) noexcept;

  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::string finish();  // "<algorithm>:<hex>"; the hasher is spent afterwards

 private:
  struct Ctx;
  std::string algorithm_;
  std::unique_ptr<Ctx> ctx_;
};

// Digest of `data` with the algorithm of `like` ("sha512:..." -> sha512), or sha256 by default.
std::string digest_of(std::string_view data, std::string_view algorithm = "sha256");

}  // namespace vpcri::runtime::registry

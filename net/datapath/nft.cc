#include "net/datapath/nft.h"

#include <nftables/libnftables.h>

#include <memory>
#include <mutex>

#include "common/error.h"

namespace vpcri::net {

namespace {

struct CtxDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

// libnftables keeps some process-wide state (its bignum and parser setup); one call at a time.
std::mutex& nft_mutex() {
  static std::mutex mu;
  return mu;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string nft_run(std::string_view script, std::string_view what) {
  std::lock_guard lock(nft_mutex());
  std::unique_ptr<nft_ctx, CtxDeleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) throw Error(Errc::internal, std::string(what) + ": cannot create an nftables context");
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    throw Error(Errc::internal, std::string(what) + ": cannot buffer nftables output");
  }
  std::string text(script);
  int rc = nft_run_cmd_from_buffer(ctx.get(), text.c_str());
  if (rc != 0) {
    const char* err = nft_ctx_get_error_buffer(ctx.get());
    throw Error(Errc::internal, std::string(what) + ": " + trim(err && *err ? err : "nft failed without a message"));
  }
  const char* out = nft_ctx_get_output_buffer(ctx.get());
  return out ? out : "";
}

}  // namespace vpcri::net

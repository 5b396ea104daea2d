// nftables in-process through libnftables: a script (nft syntax) is applied as one netlink
// transaction, so it takes effect entirely or not at all. Like the rest of the datapath it acts
// on the calling thread's network namespace (the context and its netlink socket are made per call).
#pragma once

#include <string>
#include <string_view>

namespace vpcri::net {

// Runs `script` (several commands, one per line) atomically and returns what nft printed (for
// list commands). Throws Error(internal) "<what>: <nft's error text>" if nft refuses it.
std::string nft_run(std::string_view script, std::string_view what = "applying nftables rules");

}  // namespace vpcri::net

#include "net/ipam/provider.h"

namespace vpcri::net::ipam {

const char* provider_errc_name(ProviderErrc code) {
  switch (code) {
    case ProviderErrc::throttled: return "throttled";
    case ProviderErrc::insufficient_addresses: return "insufficient addresses";
    case ProviderErrc::eni_limit_reached: return "ENI limit reached";
    case ProviderErrc::other: return "error";
  }
  return "error";
}

}  // namespace vpcri::net::ipam

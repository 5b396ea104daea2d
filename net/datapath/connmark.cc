#include "net/datapath/connmark.h"

#include <linux/rtnetlink.h>

#include "net/datapath/netlink.h"
#include "net/datapath/routing.h"

namespace vpcri::net {

void apply_connmark_rule(bool enabled) {
  auto sk = nl::connect(NETLINK_ROUTE);
  auto match = nl::RuleMatch::fwmark(kConnmarkBit, kConnmarkBit);
  if (enabled) {
    nl::add_rule(sk.get(), kConnmarkRulePriority, match, RT_TABLE_MAIN);
  } else {
    nl::delete_rules(sk.get(), kConnmarkRulePriority, match, RT_TABLE_MAIN);
  }
}

}  // namespace vpcri::net

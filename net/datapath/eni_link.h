// The node side of an attached ENI (aws provider), as the AWS VPC CNI sets it up: its interface
// found by MAC whatever the kernel named it (ethN, ensN), brought up with the MTU, rp_filter
// loose, and for a secondary ENI (device number > 0) its own route table and source rule:
//
//   table <device + 1>:  <gateway> dev ethN scope link
//                        <subnet> dev ethN scope link
//                        default via <gateway> dev ethN           (gateway = subnet network + 1)
//   rule 32765:          from <ENI primary IP> lookup <device + 1>
//
// Pods holding the ENI's IPs reach that table through their from-pod rule (priority 1536, see
// datapath.h). The primary ENI (device 0) uses the main table: only rp_filter is set there.
// Everything runs in the calling thread's network namespace, which must be the node's.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "net/cidr.h"
#include "net/datapath/datapath.h"
#include "net/datapath/netlink.h"

namespace vpcri::net {

inline constexpr uint32_t kEniPrimaryIpRulePriority = 32765;  // from <ENI primary IP> lookup <ENI table>
// EC2 usually shows an attached ENI's interface within seconds; udev may rename it after.
inline constexpr std::chrono::milliseconds kEniLinkWaitTimeout{30000};
// Table ids must stay below the kernel's reserved ones (252-255).
inline constexpr int kMaxEniDeviceNumber = 250;

struct EniLink {
  std::string eni_id;  // for messages
  std::string mac;     // "0a:1b:2c:3d:4e:5f" (case-insensitive)
  int device_number = 0;
  Cidr subnet_cidr;      // IPv4
  IpAddress primary_ip;  // the ENI's own address, inside subnet_cidr
  int mtu = kDefaultPodMtu;
};

struct EniInterface {
  std::string name;
  int ifindex = 0;
};

// "0a:1b:2c:3d:4e:5f" -> bytes; Error(invalid_argument) for anything else.
nl::Mac parse_mac(const std::string& text);

// The subnet's VPC router: network address + 1.
IpAddress subnet_gateway(const Cidr& subnet);

// The interface carrying `mac`, if any (no waiting).
std::optional<EniInterface> find_interface_by_mac(const nl::Mac& mac);

// Waits for an interface carrying `mac` (it may exist already), listening to link events rather
// than polling; Error(deadline_exceeded) naming the MAC after `timeout`. `on_waiting` runs once,
// on the waiting thread, when the first look found nothing and events are being listened to
// (tests create the interface from there).
EniInterface wait_for_interface_by_mac(const nl::Mac& mac, std::chrono::milliseconds timeout,
                                       const std::function<void()>& on_waiting = {});

// Sets the ENI's interface up as described above. Idempotent: applying it again changes nothing.
// On failure what this call added is removed again and Error is thrown (invalid_argument for a
// bad spec, deadline_exceeded when the interface does not appear).
EniInterface setup_eni_link(const EniLink& eni, std::chrono::milliseconds wait_timeout = kEniLinkWaitTimeout);

// Removes what setup_eni_link added (the rule and the table's routes; the link's MTU, state and
// rp_filter stay, the ENI is about to go). Idempotent, also when the interface is already gone
// (its routes went with it). Nothing to do for device 0.
void teardown_eni_link(const EniLink& eni);

}  // namespace vpcri::net

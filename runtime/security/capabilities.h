// Capability sets as a CRI runtime computes them, and applying them with libcap.
#pragma once

#include <string>
#include <vector>

namespace vpcri::runtime::security {

// containerd's default set (the same as Docker's): CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD,
// NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE.
const std::vector<std::string>& default_capabilities();

// Every capability the running kernel knows ("CAP_CHOWN" ... up to CAP_LAST_CAP).
std::vector<std::string> all_capabilities();

// The final set, in containerd's order: the default set, "ALL" in `add` gives every capability,
// "ALL" in `drop` removes every one, then the single names in `add`, then those in `drop` (so
// drop ALL + add NET_ADMIN is just NET_ADMIN). Privileged: every capability, add/drop ignored as
// in containerd. Names with or without the CAP_ prefix, any case. Unknown names (or ones the
// running kernel lacks) are Error(invalid_argument). Sorted, unique, "CAP_"-prefixed upper case.
std::vector<std::string> resolve_capabilities(const std::vector<std::string>& add,
                                              const std::vector<std::string>& drop, bool privileged);

// In the calling process (vpcri-init, just before exec; after setuid with keep-caps): bounding
// set reduced to `caps`, then permitted/effective/inheritable = caps, and ambient = caps when
// `ambient` (non-root users; otherwise the ambient set is cleared). Capabilities missing from the
// caller's own bounding set cannot be given and are left out. Needs CAP_SETPCAP in the permitted
// set. Throws vpcri::Error naming the failing step.
void apply_capabilities(const std::vector<std::string>& caps, bool ambient);

}  // namespace vpcri::runtime::security

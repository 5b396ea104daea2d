// A network namespace pinned on a file of the caller's choosing (a pod's
// <state>/pods/<id>/netns), the way `ip netns add` pins one under /run/netns: a new namespace
// bind-mounted on the file. The pin keeps the namespace alive with no process in it, so pod
// containers join it by path.
#pragma once

#include <string>

namespace vpcri::net {

// Creates a new, empty network namespace and bind-mounts it on `path` (which must not exist;
// its directory must). The calling thread never enters it. On failure nothing is left behind.
void create_netns_file(const std::string& path);

// Same, then brings the loopback interface up inside (a pod's namespace before any pod
// networking is attached).
void create_pod_netns_file(const std::string& path);

// Unmounts (detaching: an nsenter still inside must not make this fail) and deletes `path`.
// Idempotent: a missing file, or one not mounted (a crash half-way), is fine.
void remove_netns_file(const std::string& path);

}  // namespace vpcri::net

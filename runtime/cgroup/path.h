// Cgroup paths that come from requests (a pod's cgroup parent, a container id) are joined under
// the host's cgroup mountpoints, so they are checked before any directory is touched.
#pragma once

#include <string>
#include <string_view>

namespace vpcri::runtime::cgroup {

// Returns `path` in canonical form: one leading '/', single slashes, no trailing slash
// ("kubepods//pod1/" -> "/kubepods/pod1"). Throws Error(invalid_argument) naming the problem for:
// an empty path or "/" (the host's root cgroup is never ours), NUL or control characters,
// invalid UTF-8, "." or ".." components, components longer than NAME_MAX, and names the kernel or the v1/v2 interface
// reserves: "cgroup.*", "<controller>.*", "tasks", "notify_on_release", "release_agent".
std::string validate_cgroup_path(std::string_view path);

// Joins a cgroup path (already validated) under another one: ("/kubepods/pod1", "abc") ->
// "/kubepods/pod1/abc". `child` must be a single component; it is validated too.
std::string join_cgroup_path(std::string_view parent, std::string_view child);

// A cgroup_parent from a CRI request: validate_cgroup_path's rules, and only names kubelet's
// cgroupfs driver makes ("/kubepods/burstable/pod<uid>"): components of [A-Za-z0-9._-]. A
// systemd driver name ("x.slice", "<slice>:<prefix>:<name>") or any other byte is refused, so a mistyped or
// hostile parent never becomes a directory tree in every hierarchy. Throws Error(invalid_argument).
std::string validate_cgroup_parent(std::string_view path);

}  // namespace vpcri::runtime::cgroup

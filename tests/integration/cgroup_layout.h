// Where a test finds a cgroup's files on this host, cgroup v1 (legacy or hybrid) or cgroup2
// alone (the VM tests of tests/vm/): the tests assert the same behaviour on both layouts.
#pragma once

#include <string>
#include <vector>

#include "tests/integration/daemon_fixture.h"

namespace vpcri::test {

// Whether /sys/fs/cgroup is a cgroup2 mount (the host has no v1 hierarchy).
bool unified_cgroups();

// Each hierarchy's mountpoint: v1's controller (and named) hierarchies and hybrid's unified
// one, symlinks skipped; on cgroup2 alone, /sys/fs/cgroup itself.
std::vector<std::string> cgroup_hierarchies();
// Whether `cgroup_path` ("/vpcri/<id>") exists in any hierarchy.
bool cgroup_anywhere(const std::string& cgroup_path);

// The directory holding `cgroup_path`'s memory files, and its limit's file name
// (memory.limit_in_bytes on v1, memory.max on cgroup2, which writes "max" for no limit).
std::string memory_cgroup_dir(const std::string& cgroup_path);
std::string memory_limit_file();

// The cgroup path ("/vpcri/<id>") of container `id`, from its verbose ContainerStatus; the call
// must succeed.
std::string container_cgroup_path(Daemon& d, const std::string& id);

}  // namespace vpcri::test

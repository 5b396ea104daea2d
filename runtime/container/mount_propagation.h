// The daemon's check of a volume's source before it is bound with shared or slave propagation
// (CRI PROPAGATION_BIDIRECTIONAL / HOST_TO_CONTAINER), as containerd and CRI-O do: the mount the
// source lives on must itself be shared (or, for rslave, shared or a slave), or nothing would
// ever propagate and the pod would silently not get what it asked for.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "runtime/container/spec.h"

namespace vpcri::runtime::container {

// One line of /proc/<pid>/mountinfo, the fields this check needs.
struct MountInfoEntry {
  int mount_id = 0;
  std::string mount_point;      // unescaped (\040 -> ' ')
  std::string optional_fields;  // "shared:12 master:3", "" for a private mount
  bool shared() const;          // has "shared:N"
  bool slave() const;           // has "master:N"
};

// nullopt for a malformed line. Pure, for tests.
std::optional<MountInfoEntry> parse_mountinfo_line(std::string_view line);

// The mount `path` is on, in the caller's mount namespace (matched by statx's mount id).
// Throws vpcri::Error: invalid_argument if `path` does not exist.
MountInfoEntry mount_of(const std::string& path);

// rshared: the mount of `path` must be shared; rslave: shared or a slave; private_: anything.
// Otherwise Error(failed_precondition): path "<path>" is mounted on "<mount point>" but it is not
// a shared mount (containerd's words).
void check_propagation_source(const std::string& path, Propagation propagation);

}  // namespace vpcri::runtime::container

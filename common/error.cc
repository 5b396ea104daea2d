#include "common/error.h"

#include <cstring>

namespace vpcri {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return "invalid argument";
    case Errc::not_found: return "not found";
    case Errc::already_exists: return "already exists";
    case Errc::failed_precondition: return "failed precondition";
    case Errc::resource_exhausted: return "resource exhausted";
    case Errc::unavailable: return "unavailable";
    case Errc::deadline_exceeded: return "deadline exceeded";
    case Errc::unimplemented: return "unimplemented";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

Errc errc_from_errno(int err) {
  switch (err) {
    case ENOENT: return Errc::not_found;
    case EEXIST: return Errc::already_exists;
    case ENOSPC:
    case EDQUOT:
    case ENOMEM: return Errc::resource_exhausted;
    // A read-only filesystem (e.g. <state> remounted read-only) is the node's state, not a bug.
    case EROFS: return Errc::failed_precondition;
    case EINVAL: return Errc::invalid_argument;
    default: return Errc::internal;
  }
}

void throw_errno(const std::string& what, int err) {
  throw Error(errc_from_errno(err), what + ": " + std::strerror(err));
}

}  // namespace vpcri

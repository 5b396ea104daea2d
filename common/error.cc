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

void throw_errno(const std::string& what, int err) {
  Errc code = Errc::internal;
  switch (err) {
    case ENOENT: code = Errc::not_found; break;
    case EEXIST: code = Errc::already_exists; break;
    case ENOSPC:
    case EDQUOT:
    case ENOMEM: code = Errc::resource_exhausted; break;
    case EINVAL: code = Errc::invalid_argument; break;
    default: break;
  }
  throw Error(code, what + ": " + std::strerror(err));
}

}  // namespace vpcri

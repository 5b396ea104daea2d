// Error type shared by every layer. Code that fails throws vpcri::Error; the CRI layer maps its
// code to a gRPC status, so the code says what kind of failure it is, the message what happened.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace vpcri {

enum class Errc {
  invalid_argument,     // the request or input is malformed
  not_found,            // the named object does not exist
  already_exists,       // an object with that name or id exists
  failed_precondition,  // the object is in the wrong state for this operation
  resource_exhausted,   // out of IPs, disk, ...
  unavailable,          // a dependency (registry, cloud API) cannot be reached right now
  deadline_exceeded,    // a timeout expired
  unimplemented,        // not built yet
  internal,             // a bug or an unexpected kernel failure
};

const char* errc_name(Errc code);

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Errc code() const { return code_; }

 private:
  Errc code_;
};

// The code for an errno value: Errc::internal but for a few with a closer meaning (ENOENT: not_found...).
Errc errc_from_errno(int err);

// Throws errc_from_errno(err) with "<what>: <strerror(err)>".
[[noreturn]] void throw_errno(const std::string& what, int err = errno);

}  // namespace vpcri

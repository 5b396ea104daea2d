#include "cri/server/grpc_status.h"

#include <exception>

#include "common/log.h"

namespace vpcri::cri {

grpc::StatusCode to_status_code(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return grpc::StatusCode::INVALID_ARGUMENT;
    case Errc::not_found: return grpc::StatusCode::NOT_FOUND;
    case Errc::already_exists: return grpc::StatusCode::ALREADY_EXISTS;
    case Errc::failed_precondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case Errc::resource_exhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Errc::unavailable: return grpc::StatusCode::UNAVAILABLE;
    case Errc::deadline_exceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case Errc::unimplemented: return grpc::StatusCode::UNIMPLEMENTED;
    case Errc::internal: return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::UNKNOWN;
}

grpc::Status handle_rpc(const char* rpc, const std::function<void()>& body) {
  try {
    body();
    return grpc::Status::OK;
  } catch (const Error& e) {
    return grpc::Status(to_status_code(e.code()), e.what());
  } catch (const std::exception& e) {
    log::error("unexpected exception in RPC", {{"rpc", rpc}, {"error", e.what()}});
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(rpc) + ": internal error: " + e.what());
  } catch (...) {
    log::error("unexpected non-standard exception in RPC", {{"rpc", rpc}});
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(rpc) + ": internal error");
  }
}

grpc::Status unimplemented(const char* rpc) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      std::string("vpcri does not implement ") + rpc + " yet");
}

}  // namespace vpcri::cri

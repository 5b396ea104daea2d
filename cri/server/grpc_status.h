// The one place where C++ errors become gRPC statuses.
#pragma once

#include <grpcpp/support/status.h>

#include <functional>
#include <string>

#include "common/error.h"

namespace vpcri::cri {

grpc::StatusCode to_status_code(Errc code);

// Runs one RPC body. vpcri::Error keeps its code; any other exception becomes INTERNAL with the
// RPC's name, so no request, however malformed, can take the daemon down with an escaped throw.
grpc::Status handle_rpc(const char* rpc, const std::function<void()>& body);

grpc::Status unimplemented(const char* rpc);

}  // namespace vpcri::cri

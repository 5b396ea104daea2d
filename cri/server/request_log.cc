#include "cri/server/request_log.h"

#include <chrono>
#include <iterator>
#include <string>

#include "common/log.h"
#include "metrics/registry.h"

namespace vpcri::cri {
namespace {

const char* code_name(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  auto i = static_cast<size_t>(code);
  return i < std::size(kNames) ? kNames[i] : "UNKNOWN";
}

// "/runtime.v1.RuntimeService/RunPodSandbox" -> "RunPodSandbox".
std::string rpc_name(const char* method) {
  std::string m = method ? method : "";
  return m.substr(m.rfind('/') + 1);
}

void count_request(const std::string& rpc, grpc::StatusCode code, double seconds) {
  static auto& requests = metrics::global().counter(
      "vpcri_cri_requests_total", "CRI (and vpcri admin) requests answered, by RPC and gRPC status code.",
      {"rpc", "code"});
  static auto& latency = metrics::global().histogram(
      "vpcri_cri_request_duration_seconds", "Time from a request's arrival to its status, by RPC.", {"rpc"},
      metrics::latency_buckets());
  requests.with({rpc, code_name(code)}).inc();
  latency.with({rpc}).observe(seconds);
}

class RequestLog : public grpc::experimental::Interceptor {
 public:
  explicit RequestLog(const char* method) : method_(method), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start_);
      count_request(rpc_name(method_), status.error_code(), std::chrono::duration<double>(micros).count());
      if (status.ok()) {
        log::debug("request", {{"method", method_}, {"code", "OK"}, {"duration_us", std::to_string(micros.count())}});
      } else {
        // Failed requests are worth seeing at the default level, except the expected UNIMPLEMENTED.
        auto level = status.error_code() == grpc::StatusCode::UNIMPLEMENTED ? log::Level::debug : log::Level::info;
        if (log::enabled(level)) {
          log::write(level, "request failed",
                     {{"method", method_}, {"code", std::to_string(status.error_code())},
                      {"error", status.error_message()}, {"duration_us", std::to_string(micros.count())}});
        }
      }
    }
    methods->Proceed();
  }

 private:
  const char* method_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

grpc::experimental::Interceptor* RequestLogFactory::CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) {
  return new RequestLog(info->method());
}

}  // namespace vpcri::cri

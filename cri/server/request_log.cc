#include "cri/server/request_log.h"

#include <chrono>

#include "common/log.h"

namespace vpcri::cri {
namespace {

class RequestLog : public grpc::experimental::Interceptor {
 public:
  explicit RequestLog(const char* method) : method_(method), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start_);
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

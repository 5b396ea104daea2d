#include "cri/server/request_log.h"

#include <chrono>
#include <iterator>
#include <string>

#include "common/log.h"
#include "cri/server/store.h"
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

// The string field `name` of `m`, "" when it has none.
std::string string_field(const google::protobuf::Message& m, const char* name) {
  const auto* field = m.GetDescriptor()->FindFieldByName(name);
  if (!field || field->is_repeated() || field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
    return "";
  }
  return m.GetReflection()->GetString(m, field);
}

std::string pod_name(const v1::PodSandboxMetadata& m) { return m.namespace_() + "/" + m.name(); }

// A lookup that never throws (an ambiguous or empty prefix is the handler's error to report).
template <class Table>
auto find_quietly(const Table& table, const std::string& id) -> decltype(table.find(id)) {
  if (id.empty()) return nullptr;
  try {
    return table.find(id);
  } catch (const std::exception&) {
    return nullptr;
  }
}

class RequestLog : public grpc::experimental::Interceptor {
 public:
  RequestLog(const char* method, const Store& store)
      : method_(method), store_(store), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    // The ids are copied as the request arrives and looked up only if it fails: removals erase
    // their record as their last step, so a failed one still finds it.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      if (auto* request = static_cast<const google::protobuf::Message*>(methods->GetRecvMessage())) {
        names_ = request_names(*request);
      }
    }
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
          std::string code = std::to_string(status.error_code()), us = std::to_string(micros.count());
          RequestSubject subject = resolve_subject(names_, store_);
          if (subject.pod.empty()) {
            log::write(level, "request failed",
                       {{"method", method_}, {"code", code}, {"error", status.error_message()}, {"duration_us", us}});
          } else {
            log::write(level, "request failed",
                       {{"method", method_}, {"code", code}, {"error", status.error_message()}, {"duration_us", us},
                        {"pod", subject.pod}, {"container", subject.container}});
          }
        }
      }
    }
    methods->Proceed();
  }

 private:
  const char* method_;
  const Store& store_;
  std::chrono::steady_clock::time_point start_;
  RequestNames names_;
};

}  // namespace

RequestNames request_names(const google::protobuf::Message& request) {
  RequestNames names;
  const auto* descriptor = request.GetDescriptor();
  for (const char* name : {"config", "sandbox_config"}) {
    const auto* field = descriptor->FindFieldByName(name);
    if (!field || field->is_repeated() || field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    const auto& value = request.GetReflection()->GetMessage(request, field);
    if (const auto* pod = dynamic_cast<const v1::PodSandboxConfig*>(&value); pod && pod->has_metadata()) {
      names.from_config.pod = pod_name(pod->metadata());
    } else if (const auto* container = dynamic_cast<const v1::ContainerConfig*>(&value)) {
      names.from_config.container = container->metadata().name();
    }
  }
  names.pod_id = string_field(request, "pod_sandbox_id");
  names.container_id = string_field(request, "container_id");
  return names;
}

RequestSubject resolve_subject(const RequestNames& names, const Store& store) {
  RequestSubject subject = names.from_config;
  std::string pod_id = names.pod_id;
  if (auto container = find_quietly(store.containers, names.container_id)) {
    ContainerRecord record = container->get();
    subject.container = record.config.metadata().name();
    pod_id = record.sandbox_id;
  }
  if (subject.pod.empty()) {
    if (auto pod = find_quietly(store.sandboxes, pod_id)) subject.pod = pod_name(pod->get().config.metadata());
  }
  return subject;
}

RequestSubject request_subject(const google::protobuf::Message& request, const Store& store) {
  return resolve_subject(request_names(request), store);
}

grpc::experimental::Interceptor* RequestLogFactory::CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) {
  return new RequestLog(info->method(), store_);
}

}  // namespace vpcri::cri

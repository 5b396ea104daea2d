#include "bench/rpc_latency.h"

#include <map>
#include <stdexcept>

#include "bench/bench_stats.h"

namespace vpcri::bench {
namespace {

namespace rt = runtime::v1;
using json = nlohmann::json;

class RpcTimer {
 public:
  explicit RpcTimer(ctl::Client& client) : client_(client) {}

  // One call with a fresh context; the latency lands in `samples_[name]` when `keep`.
  template <class Call>
  void time(const char* name, bool keep, Call call) {
    auto ctx = client_.context();
    auto t0 = Clock::now();
    grpc::Status status = call(ctx.get());
    double ms = ms_since(t0);
    client_.check(status, name);
    if (keep) samples_[name].push_back(ms);
  }

  json result() const {
    json ops = json::object(), samples = json::object();
    for (const auto& [name, v] : samples_) {
      ops[name] = summarize(v);
      samples[name] = v;
    }
    return json{{"ops", ops}, {"ops_samples_ms", samples}};
  }

 private:
  ctl::Client& client_;
  std::map<std::string, std::vector<double>> samples_;
};

rt::PullImageRequest pull_request(const std::string& image) {
  rt::PullImageRequest req;
  req.mutable_image()->set_image(image);
  return req;
}

}  // namespace

json measure_rpc_latency(ctl::Client& client, const RpcLatencyOptions& o, const std::vector<RunningPod>& pods) {
  if (pods.empty()) throw std::runtime_error("rpcs: no running pod to ask the status of");
  RpcTimer timer(client);
  auto& images = client.images();
  auto& runtime = client.runtime();
  for (int i = 0; i < o.warmup + o.calls; ++i) {
    const bool keep = i >= o.warmup;
    const RunningPod& pod = pods[static_cast<size_t>(i) % pods.size()];
    {
      auto req = pull_request(o.image);
      rt::PullImageResponse resp;
      timer.time("PullImage (present)", keep, [&](grpc::ClientContext* c) { return images.PullImage(c, req, &resp); });
    }
    {
      rt::ImageStatusRequest req;
      req.mutable_image()->set_image(o.image);
      rt::ImageStatusResponse resp;
      timer.time("ImageStatus", keep, [&](grpc::ClientContext* c) { return images.ImageStatus(c, req, &resp); });
      if (!resp.has_image()) throw std::runtime_error("ImageStatus: " + o.image + " is not present");
    }
    {
      rt::ListImagesRequest req;
      rt::ListImagesResponse resp;
      timer.time("ListImages", keep, [&](grpc::ClientContext* c) { return images.ListImages(c, req, &resp); });
    }
    {
      rt::ContainerStatusRequest req;
      req.set_container_id(pod.container_id);
      rt::ContainerStatusResponse resp;
      timer.time("ContainerStatus", keep,
                 [&](grpc::ClientContext* c) { return runtime.ContainerStatus(c, req, &resp); });
    }
    {
      rt::PodSandboxStatusRequest req;
      req.set_pod_sandbox_id(pod.sandbox_id);
      rt::PodSandboxStatusResponse resp;
      timer.time("PodSandboxStatus", keep,
                 [&](grpc::ClientContext* c) { return runtime.PodSandboxStatus(c, req, &resp); });
    }
    {
      rt::ListContainersRequest req;
      rt::ListContainersResponse resp;
      timer.time("ListContainers", keep, [&](grpc::ClientContext* c) { return runtime.ListContainers(c, req, &resp); });
    }
    {
      rt::ListPodSandboxRequest req;
      rt::ListPodSandboxResponse resp;
      timer.time("ListPodSandbox", keep, [&](grpc::ClientContext* c) { return runtime.ListPodSandbox(c, req, &resp); });
    }
  }
  if (!o.remove_image.empty()) {
    for (int i = 0; i < 1 + o.removes; ++i) {  // one warm-up removal
      auto pull = pull_request(o.remove_image);
      rt::PullImageResponse pulled;
      timer.time("PullImage (absent)", false, [&](grpc::ClientContext* c) { return images.PullImage(c, pull, &pulled); });
      rt::RemoveImageRequest req;
      req.mutable_image()->set_image(o.remove_image);
      rt::RemoveImageResponse resp;
      timer.time("RemoveImage", i > 0, [&](grpc::ClientContext* c) { return images.RemoveImage(c, req, &resp); });
    }
  }
  json out = timer.result();
  out["pods"] = pods.size();
  out["calls"] = o.calls;
  out["image"] = o.image;
  out["remove_image"] = o.remove_image;
  return out;
}

}  // namespace vpcri::bench

// GetContainerEvents: follows the event bus until the client goes away or falls behind.
#include "common/log.h"
#include "cri/server/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {

grpc::Status RuntimeService::GetContainerEvents(grpc::ServerContext* context, const v1::GetEventsRequest*,
                                                grpc::ServerWriter<v1::ContainerEventResponse>* writer) {
  auto& bus = state_.events();
  auto subscription = bus.subscribe();
  struct Unsubscribe {
    ContainerEventBus& bus;
    std::shared_ptr<ContainerEventBus::Subscription> subscription;
    ~Unsubscribe() { bus.unsubscribe(subscription); }
  } unsubscribe{bus, subscription};
  // Tells the client it is subscribed: events from here on reach it.
  writer->SendInitialMetadata();
  while (!context->IsCancelled()) {
    // Wakes up now and then to notice a client that went away without an event to send.
    auto event = subscription->next(std::chrono::milliseconds(500));
    if (subscription->overflowed()) {
      log::warn("GetContainerEvents subscriber fell behind and was cut off", {{"peer", context->peer()}});
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "GetContainerEvents: the client fell behind; resubscribe and relist");
    }
    if (subscription->closed()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "GetContainerEvents: vpcrid is stopping; resubscribe");
    }
    if (event && !writer->Write(*event)) break;  // the client is gone
  }
  return grpc::Status::OK;
}

}  // namespace vpcri::cri

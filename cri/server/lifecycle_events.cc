#include "cri/server/lifecycle_events.h"

#include "common/log.h"
#include "cri/server/cri_convert.h"

namespace vpcri::cri {

void publish_event(RuntimeState& state, const std::string& container_id, const std::string& sandbox_id,
                   ::runtime::v1::ContainerEventType type) noexcept {
  if (!state.events().has_subscribers()) return;
  try {
    ::runtime::v1::ContainerEventResponse event;
    event.set_container_id(container_id);
    event.set_container_event_type(type);
    event.set_created_at(now_ns());
    if (auto pod = state.store().sandboxes.find(sandbox_id); pod && pod->id() == sandbox_id) {
      to_cri(pod->get(), event.mutable_pod_sandbox_status());
    }
    for (const auto& c : state.store().containers_of(sandbox_id)) {
      c->read([&](const ContainerRecord& r) { to_cri(r, event.add_containers_statuses()); });
    }
    state.events().publish(event);
  } catch (const std::exception& e) {
    log::warn("container event not published",
              {{"container_id", container_id}, {"event", ::runtime::v1::ContainerEventType_Name(type)},
               {"error", e.what()}});
  }
}

}  // namespace vpcri::cri

// Publishing lifecycle changes on the CRI event stream (container_events.h) from the RPCs and
// the reaper.
#pragma once

#include <string>

#include "cri/server/runtime_state.h"

namespace vpcri::cri {

// Publishes `type` for `container_id` (a sandbox's own id for its events) with the current
// status of pod `sandbox_id` and of its containers. Costs nothing without subscribers; never
// throws (a failure to build the statuses is logged).
void publish_event(RuntimeState& state, const std::string& container_id, const std::string& sandbox_id,
                   ::runtime::v1::ContainerEventType type) noexcept;

}  // namespace vpcri::cri

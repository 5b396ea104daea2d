// vpcrictl events: follows GetContainerEvents, one line (or one JSON object) per event.
#include <iostream>

#include "cri/ctl/commands.h"
#include "cri/ctl/flags.h"

namespace vpcri::ctl {

int cmd_events(Client& client, const Options& opts, const Args& args) {
  Flags flags("events", "events [-o json] [--no-trunc]",
              "Follow the runtime's container lifecycle events (GetContainerEvents, what kubelet's evented\n"
              "PLEG reads) until interrupted. A sandbox's own events carry its id as the container id.");
  bool no_trunc = false;
  Format format = opts.format;
  flags.add("--no-trunc", "show whole ids", &no_trunc);
  flags.add_output(&format);
  if (!flags.parse(args).empty()) flags.usage_error("takes no arguments");
  grpc::ClientContext context;  // no deadline: follows until interrupted
  runtime::v1::GetEventsRequest req;
  auto reader = client.runtime().GetContainerEvents(&context, req);
  runtime::v1::ContainerEventResponse event;
  while (reader->Read(&event)) {
    if (format == Format::json) {
      std::cout << to_json(event);
    } else {
      const auto& pod = event.pod_sandbox_status();
      std::cout << event.created_at() << " "
                << runtime::v1::ContainerEventType_Name(event.container_event_type()) << " "
                << truncate_id(event.container_id(), no_trunc) << " pod=" << truncate_id(pod.id(), no_trunc) << " "
                << pod.metadata().namespace_() << "/" << pod.metadata().name() << "\n";
    }
    std::cout.flush();
  }
  client.check(reader->Finish(), "GetContainerEvents");
  return 0;
}

}  // namespace vpcri::ctl

// systemd readiness notification (Type=notify) without linking libsystemd: one datagram to
// $NOTIFY_SOCKET. A no-op when not started by systemd.
#pragma once

#include <string>

namespace vpcri::cri {

// Sends e.g. "READY=1"; returns false if NOTIFY_SOCKET is set but the message could not be sent.
bool sd_notify(const std::string& state);

}  // namespace vpcri::cri

// A client of systemd's manager over D-Bus (sd-bus from libsystemd): the few calls the systemd
// cgroup driver makes, each waiting for its job to finish. One connection per client object:
// sd-bus connections are not thread-safe, so each RPC that needs systemd opens its own.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "runtime/cgroup/systemd_properties.h"

struct sd_bus;
struct sd_bus_slot;

namespace vpcri::runtime::cgroup {

class SystemdBus {
 public:
  // The system bus (dbus-daemon), or systemd's private socket /run/systemd/private when no
  // dbus-daemon runs (a minimal node); Error(unavailable) if neither answers.
  SystemdBus();
  ~SystemdBus();
  SystemdBus(const SystemdBus&) = delete;
  SystemdBus& operator=(const SystemdBus&) = delete;

  // StartTransientUnit(name, "fail", properties) and waits for the job's JobRemoved signal.
  // Error(already_exists) if the unit is loaded already; Error(internal) with systemd's reason
  // if the job fails; Error(deadline_exceeded) after `timeout`.
  void start_transient_unit(const std::string& name, const std::vector<UnitProperty>& properties,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // SetUnitProperties(name, runtime=true, properties): live limits. Error(not_found) for a unit
  // systemd does not have.
  void set_unit_properties(const std::string& name, const std::vector<UnitProperty>& properties);

  // StopUnit(name, "replace") and waits for the job. A unit systemd does not have (already
  // stopped and collected) is not an error.
  void stop_unit(const std::string& name, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // A property of a unit as text, for tests and logs ("ActiveState"); "" if not loaded.
  std::string unit_state(const std::string& name);

 private:
  void wait_for_job(const std::string& job, const std::string& what, std::chrono::milliseconds timeout);

  sd_bus* bus_ = nullptr;
  std::vector<std::pair<std::string, std::string>> removed_jobs_;  // job path, result
  sd_bus_slot* job_removed_match_ = nullptr;
};

}  // namespace vpcri::runtime::cgroup

#include "cri/server/exec_spec.h"

#include "runtime/cgroup/cgroup.h"

namespace vpcri::cri {

runtime::container::InitSpec exec_spec(RuntimeState& state, const std::string& container_id,
                                       const std::vector<std::string>& cmd, const char* rpc) {
  const ContainerRecord r = state.store().containers.get(container_id)->get();
  auto not_running = [&] {
    return Error(Errc::failed_precondition, std::string(rpc) + ": container " + r.id + " is not running");
  };
  if (r.state != v1::CONTAINER_RUNNING || !runtime::is_running(r.process)) throw not_running();
  namespace container = runtime::container;
  container::InitSpec spec = container::init_spec_from_json(r.init_spec);
  const std::string ns = "/proc/" + std::to_string(r.process.pid) + "/ns/";
  for (auto [field, kind] : {std::pair{&spec.mnt, "mnt"}, {&spec.net, "net"}, {&spec.ipc, "ipc"},
                             {&spec.uts, "uts"}, {&spec.pid, "pid"}}) {
    *field = {container::NamespaceSpec::Mode::join, ns + kind};
  }
  spec.mounts.clear();
  spec.sysctls.clear();
  spec.process.args = cmd;
  spec.cgroup_dirs = runtime::cgroup::Cgroup(state.cgroup_root(), r.cgroup_path).directories();
  // Checked again: the namespace paths above name the pid, which must still be the container's.
  if (!runtime::is_running(r.process)) throw not_running();
  return spec;
}

}  // namespace vpcri::cri

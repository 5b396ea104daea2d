#include "cri/server/exec_spec.h"

#include "runtime/cgroup/cgroup.h"
#include "runtime/monitor/process_ref.h"

namespace vpcri::cri {

ExecTarget exec_target(RuntimeState& state, const std::string& container_id, const std::vector<std::string>& cmd,
                       const char* rpc) {
  ExecTarget t;
  t.record = state.store().containers.get(container_id)->get();
  const ContainerRecord& r = t.record;
  auto not_running = [&] {
    return Error(Errc::failed_precondition, std::string(rpc) + ": container " + r.id + " is not running");
  };
  if (r.state != v1::CONTAINER_RUNNING) throw not_running();
  t.pidfd = runtime::open_pidfd(r.process);
  if (!t.pidfd) throw not_running();
  namespace container = runtime::container;
  t.spec = container::init_spec_from_json(r.init_spec);
  const std::string ns = "/proc/" + std::to_string(r.process.pid) + "/ns/";
  for (auto [field, kind] : {std::pair{&t.spec.mnt, "mnt"}, {&t.spec.net, "net"}, {&t.spec.ipc, "ipc"},
                             {&t.spec.uts, "uts"}, {&t.spec.pid, "pid"}, {&t.spec.cgroup, "cgroup"}}) {
    *field = {container::NamespaceSpec::Mode::join, ns + kind};
  }
  t.spec.mounts.clear();
  t.spec.sysctls.clear();
  t.spec.process.args = cmd;
  t.spec.cgroup_dirs = runtime::cgroup::Cgroup(state.cgroup_root(), r.cgroup_path).directories();
  return t;
}

}  // namespace vpcri::cri

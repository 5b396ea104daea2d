// RunPodSandbox: a pod's namespaces, files, cgroup and its pause process (docs/ARCHITECTURE.md,
// "How a request flows"). Any failure undoes every step done so far.
#include <sys/mount.h>

#include <csignal>
#include <future>
#include <map>

#include "common/failpoint.h"
#include "common/fs.h"
#include "common/log.h"
#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/lifecycle_events.h"
#include "cri/server/operation_spans.h"
#include "cri/server/pod_config.h"
#include "cri/server/request_validation.h"
#include "cri/server/runtime_service.h"
#include "cri/server/container_spec.h"
#include "net/datapath/netns_file.h"
#include "net/datapath/undo_stack.h"
#include "runtime/container/pause_process.h"
#include "runtime/container/pod_namespaces.h"

namespace vpcri::cri {
namespace {

namespace container = runtime::container;

void mount_shm(const std::string& target, bool host_ipc) {
  fs::mkdir_p(target, 0755);
  int rc = host_ipc ? ::mount("/dev/shm", target.c_str(), nullptr, MS_BIND | MS_REC, nullptr)
                    : ::mount("shm", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
  if (rc != 0) throw_errno("mounting the pod's /dev/shm on " + target);
}

}  // namespace

grpc::Status RuntimeService::RunPodSandbox(grpc::ServerContext*, const v1::RunPodSandboxRequest* req,
                                           v1::RunPodSandboxResponse* resp) {
  return handle_rpc("RunPodSandbox", [&] {
    OperationSpans spans("RunPodSandbox");
    const v1::PodSandboxConfig& config = req->config();
    const auto& meta = config.metadata();
    if (meta.name().empty() || meta.namespace_().empty() || meta.uid().empty()) {
      throw Error(Errc::invalid_argument, "RunPodSandbox: metadata name, namespace and uid are required");
    }
    validate_pod_sandbox_config(config);
    if (!req->runtime_handler().empty()) {
      throw Error(Errc::invalid_argument, "RunPodSandbox: unknown runtime handler \"" + req->runtime_handler() +
                                              "\" (vpcri has only the default handler \"\")");
    }
    const auto& linux = config.linux();
    const auto& ns = linux.security_context().namespace_options();
    const bool host_network = ns.network() == v1::NODE;
    const bool host_ipc = ns.ipc() == v1::NODE;
    const bool host_pid = ns.pid() == v1::NODE;
    std::map<std::string, std::string> sysctls(linux.sysctls().begin(), linux.sysctls().end());
    validate_sysctls(sysctls, host_network, host_ipc);
    const std::vector<net::PortMapping> host_ports = host_network ? std::vector<net::PortMapping>{} : port_mappings(config);
    // pause runs from vpcri's own binary (runtime.pause_path), not from the image; the image is
    // still the runtime's sandbox image (pinned, reported), and Status is not ready without it.
    if (!state_.images().find(state_.config().images.sandbox_image)) throw Error(Errc::failed_precondition, "RunPodSandbox: " + state_.sandbox_image_problem());

    spans.mark("validate");
    Store& store = state_.store();
    SandboxRecord r;
    r.id = new_id();
    r.config = config;
    r.runtime_handler = req->runtime_handler();
    r.created_at = now_ns();
    // cgroupfs: a pod without a parent gets one of its own; systemd: all of them share vpcri.slice.
    const auto& cgroups = state_.cgroups();
    r.owns_cgroup_parent = linux.cgroup_parent().empty() && cgroups.makes_parents();
    r.cgroup_parent = r.owns_cgroup_parent ? runtime::cgroup::join_cgroup_path(kOwnCgroupParent, r.id)
                                           : cgroups.parent_path(linux.cgroup_parent().empty() ? std::string(kOwnSlice)
                                                                                               : linux.cgroup_parent());
    r.hostname = pod_hostname(config.hostname());  // the node's when the request has none

    const std::string name = sandbox_name(meta);
    store.sandboxes.reserve_name(name, r.id);
    net::UndoStack undo;
    undo.push("releasing the name", [&] { store.sandboxes.release_name(name); });
    const PodPaths paths = pod_paths(store, r.id);
    undo.push("removing the pod's directories", [&] { store.erase_files(r); });
    // Intent first: a crash from here on leaves a record that the next start rolls back.
    r.creating = true;
    store.save(r);
    failpoint("run_pod.intent");
    spans.mark("intent_record");
    fs::mkdir_p(paths.dir, 0711);
    // Every later step is undone by the one idempotent teardown.
    undo.push("tearing down", [&] { teardown_sandbox(state_, r); });

    // The pod network (IP, veth, routes: the largest step) needs only the netns file: it is set
    // up on a second thread while this one makes the rest of the pod, and joined before the pod
    // is READY. Declared after `undo`, so a failure here waits for it before anything is undone.
    std::future<std::string> network_ip;
    auto join_network = [&] {
      if (!network_ip.valid()) return;  // none, or joined already
      try {
        r.ip = network_ip.get();
      } catch (const Error& e) {
        throw Error(e.code(), std::string("RunPodSandbox: attaching the pod network: ") + e.what());
      }
    };
    if (!host_network) {
      net::create_pod_netns_file(paths.netns);
      if (auto network = state_.network()) {
        net::AttachRequest attach{r.id, meta.namespace_(), meta.name(), paths.netns, host_ports};
        network_ip = std::async(std::launch::async, [network, attach] { return network->attach(attach).ip.to_string(); });
      } else if (!state_.pod_networking_off()) {
        throw Error(Errc::unavailable, "RunPodSandbox: pod network is not ready: " + state_.network_problem());
      }
    }
    container::PodNamespacesSpec ns_spec;
    ns_spec.ipc = !host_ipc;
    ns_spec.uts = !host_network;
    ns_spec.hostname = r.hostname;
    const container::PodNamespaces pinned = container::pin_pod_namespaces(paths.ns_dir, ns_spec);
    failpoint("run_pod.namespaces");
    spans.mark("namespaces");

    // Runtime state (under --state): replaced atomically, not fsynced.
    fs::replace_file(paths.hostname, r.hostname + "\n", 0644);
    fs::replace_file(paths.hosts, hosts_file(r.hostname), 0644);
    if (host_network) {
      fs::replace_file(paths.resolv_conf, fs::read_file("/etc/resolv.conf"), 0644);
    } else {
      const auto& dns = config.dns_config();
      fs::replace_file(paths.resolv_conf,
                            resolv_conf({dns.servers().begin(), dns.servers().end()},
                                        {dns.searches().begin(), dns.searches().end()},
                                        {dns.options().begin(), dns.options().end()}),
                            0644);
    }
    mount_shm(paths.shm, host_ipc);
    failpoint("run_pod.shm");
    spans.mark("files_and_shm");

    // An attach that has failed already (an empty pool fails at once) fails the pod now, before
    // its cgroups and pause are made only to be torn down again.
    if (network_ip.valid() && network_ip.wait_for(std::chrono::seconds(0)) == std::future_status::ready) join_network();

    auto [cgroup, cgroup_hold] = create_sandbox_cgroup(
        state_, r, linux.has_resources() ? to_linux_resources(linux.resources()) : runtime::cgroup::LinuxResources{});
    cgroup.apply_devices(runtime::cgroup::default_device_policy());
    failpoint("run_pod.cgroup");
    spans.mark("cgroup");

    // pause, the cheap way: no monitor, no vpcri-init, no image rootfs (runtime/container/pause_process.h).
    container::PauseSpec pause_spec;
    pause_spec.binary_fd = state_.pause_fd();
    if (!host_network) pause_spec.netns = paths.netns;
    pause_spec.ipc = pinned.ipc;
    pause_spec.uts = pinned.uts;
    // pause gets a PID namespace of its own (it is its pid 1), pinned below for the containers to
    // join.
    pause_spec.new_pid_ns = !host_pid;
    pause_spec.root_mount_point = paths.dir;  // shadowed by an empty tmpfs in pause's own mount namespace
    pause_spec.cgroup_dirs = cgroup.directories();
    pause_spec.sysctls = sysctls;
    const auto& sc = linux.security_context();
    if (sc.has_run_as_user()) pause_spec.uid = checked_id(sc.run_as_user().value(), "run_as_user");
    if (sc.has_run_as_group()) pause_spec.gid = checked_id(sc.run_as_group().value(), "run_as_group");
    spans.mark("spec");
    // A crash from here on leaves pause in the pod cgroup, which the rollback's teardown kills
    // and removes, so no pause outlives a RunPodSandbox that did not finish.
    auto pause = std::make_shared<container::PauseProcess>(container::spawn_pause(pause_spec));
    undo.push("killing pause", [pause] {
      pause->kill();
      pause->wait(std::chrono::seconds(10));
    });
    r.pause = pause->process();
    cgroup_hold.release();  // pause is in the cgroup now
    failpoint("run_pod.pause");
    spans.mark("launch_pause");
    // Pinned whether or not the pod shares it: a container whose PID mode is POD joins pause's
    // namespace either way (as with containerd and CRI-O).
    if (!host_pid) container::pin_pid_namespace(paths.ns_dir, r.pause);
    failpoint("run_pod.pid_ns");
    spans.mark("pin_pid_ns");
    join_network();
    failpoint("run_pod.network");
    spans.mark("network");  // what the pod still waited for the network after the steps above
    r.state = v1::SANDBOX_READY;
    r.creating = false;
    store.save(r);
    failpoint("run_pod.ready");
    spans.mark("ready_record");
    auto pod = std::make_shared<Sandbox>(r);
    store.sandboxes.insert(pod);
    watch_sandbox(state_, pod, pause);
    undo.commit();
    // As containerd: a sandbox's own events carry its id as the container id.
    publish_event(state_, r.id, r.id, v1::CONTAINER_CREATED_EVENT);
    publish_event(state_, r.id, r.id, v1::CONTAINER_STARTED_EVENT);
    log::info("pod sandbox ready", {{"id", r.id}, {"name", name}, {"pause_pid", std::to_string(r.pause.pid)}, {"ip", r.ip}});
    resp->set_pod_sandbox_id(r.id);
    spans.mark("publish");
    spans.done();
  });
}

}  // namespace vpcri::cri

#include "cri/server/container_spec.h"

#include <sys/stat.h>

#include <csignal>
#include <cstring>
#include <set>

#include "common/error.h"
#include "common/fs.h"
#include "cri/server/request_validation.h"
#include "runtime/container/command.h"
#include "runtime/container/devices.h"
#include "runtime/container/mount_propagation.h"
#include "runtime/security/seccomp.h"

namespace vpcri::cri {
namespace {

namespace container = runtime::container;
using Mode = container::NamespaceSpec::Mode;

container::NamespaceSpec host() { return {Mode::host, ""}; }
container::NamespaceSpec fresh() { return {Mode::fresh, ""}; }
container::NamespaceSpec join(const std::string& path) { return {Mode::join, path}; }

container::SeccompSpec localhost_profile(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    throw Error(Errc::invalid_argument, "seccomp: a Localhost profile must be an absolute path, got \"" + path + "\"");
  }
  std::string text;
  try {
    text = fs::read_file(path);
  } catch (const Error& e) {
    throw Error(Errc::invalid_argument, std::string("seccomp: cannot read the Localhost profile: ") + e.what());
  }
  std::string problem = runtime::security::check_profile_json(text);
  if (!problem.empty()) throw Error(Errc::invalid_argument, "seccomp: profile " + path + ": " + problem);
  return {container::SeccompSpec::Mode::localhost, path, ""};
}

// The deprecated string form, which kubelet still sends to older runtimes.
std::string legacy_seccomp_profile_path(const v1::LinuxContainerSecurityContext& sc) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  return sc.seccomp_profile_path();
#pragma GCC diagnostic pop
}

}  // namespace

const std::vector<std::string>& default_masked_paths() {
  static const std::vector<std::string> paths = {
      "/proc/acpi",        "/proc/asound",     "/proc/kcore",         "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
      "/proc/scsi",        "/sys/firmware",    "/sys/devices/virtual/powercap"};
  return paths;
}

const std::vector<std::string>& default_readonly_paths() {
  static const std::vector<std::string> paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                 "/proc/sysrq-trigger"};
  return paths;
}

runtime::cgroup::LinuxResources to_linux_resources(const v1::LinuxContainerResources& r) {
  runtime::cgroup::LinuxResources out;
  out.cpu_period = r.cpu_period();
  out.cpu_quota = r.cpu_quota();
  out.cpu_shares = r.cpu_shares();
  out.memory_limit_in_bytes = r.memory_limit_in_bytes();
  out.memory_swap_limit_in_bytes = r.memory_swap_limit_in_bytes();
  out.cpuset_cpus = r.cpuset_cpus();
  out.cpuset_mems = r.cpuset_mems();
  for (const auto& h : r.hugepage_limits()) out.hugepage_limits[h.page_size()] = h.limit();
  out.unified.insert(r.unified().begin(), r.unified().end());
  return out;
}

container::SeccompSpec seccomp_spec(const v1::LinuxContainerSecurityContext& sc) {
  if (sc.has_seccomp()) {
    switch (sc.seccomp().profile_type()) {
      case v1::SecurityProfile::RuntimeDefault: return {container::SeccompSpec::Mode::runtime_default, "", ""};
      case v1::SecurityProfile::Unconfined: return {container::SeccompSpec::Mode::unconfined, "", ""};
      case v1::SecurityProfile::Localhost: return localhost_profile(sc.seccomp().localhost_ref());
      default: throw Error(Errc::invalid_argument, "seccomp: unknown profile type " + std::to_string(sc.seccomp().profile_type()) +
                                                       "; use RuntimeDefault, Unconfined or Localhost");
    }
  }
  const std::string path = legacy_seccomp_profile_path(sc);
  if (path.empty() || path == "unconfined") return {container::SeccompSpec::Mode::unconfined, "", ""};
  if (path == "runtime/default" || path == "docker/default") return {container::SeccompSpec::Mode::runtime_default, "", ""};
  if (path.rfind("localhost/", 0) == 0) return localhost_profile(path.substr(std::strlen("localhost")));
  throw Error(Errc::invalid_argument, "seccomp: unknown profile \"" + path + "\"");
}

int signal_number(v1::Signal signal) {
  if (signal == v1::RUNTIME_DEFAULT) return 0;
  return signal_number(v1::Signal_Name(signal));
}

int signal_number(const std::string& text) {
  if (text.empty()) return 0;
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    int n = std::stoi(text.substr(0, 3));
    if (n > 0 && n < NSIG) return n;
  }
  std::string name = text.rfind("SIG", 0) == 0 ? text.substr(3) : text;
  for (int n = 1; n < NSIG; ++n) {
    const char* abbrev = sigabbrev_np(n);
    if (abbrev && name == abbrev) return n;
  }
  if (name == "CLD") return SIGCHLD;
  if (name == "POLL") return SIGIO;
  if (name == "IOT") return SIGABRT;
  if (name.rfind("RTMIN", 0) == 0 || name.rfind("RTMAX", 0) == 0) {
    // RTMIN, RTMINPLUS3 (CRI's spelling), RTMIN+3, RTMAX-2, RTMAXMINUS2
    std::string rest = name.substr(5);
    int base = name[3] == 'I' ? SIGRTMIN : SIGRTMAX;
    int offset = 0;
    if (rest.rfind("PLUS", 0) == 0) offset = std::stoi(rest.substr(4));
    else if (rest.rfind("MINUS", 0) == 0) offset = -std::stoi(rest.substr(5));
    else if (!rest.empty()) offset = std::stoi(rest);
    return base + offset;
  }
  throw Error(Errc::invalid_argument, "unknown signal \"" + text + "\"");
}

container::InitSpec container_init_spec(const SandboxRecord& pod, const PodPaths& pod_paths,
                                        const v1::ContainerConfig& config, const runtime::image::Image& image,
                                        const std::string& rootfs, const std::string& target_pid_ns) {
  const auto& pod_ns = pod.config.linux().security_context().namespace_options();
  const auto& sc = config.linux().security_context();
  const auto& ns = sc.namespace_options();
  container::InitSpec spec;

  // Network, IPC and UTS always follow the pod.
  const bool host_network = pod_ns.network() == v1::NODE;
  spec.net = host_network ? host() : join(pod_paths.netns);
  spec.uts = host_network ? host() : join(pod_paths.ns_dir + "/uts");
  spec.ipc = pod_ns.ipc() == v1::NODE ? host() : join(pod_paths.ns_dir + "/ipc");
  switch (ns.pid()) {
    case v1::NODE: spec.pid = host(); break;
    case v1::POD:
      // As containerd and CRI-O: pause's namespace, also in a pod that does not share it (POD is
      // the default of an unset namespace_options); in a hostPID pod that is the node's.
      spec.pid = pod_ns.pid() == v1::NODE ? host() : join(pod_paths.pid_ns);
      break;
    case v1::TARGET: spec.pid = join(target_pid_ns); break;
    default: spec.pid = fresh(); break;  // CONTAINER: a namespace of its own
  }
  spec.mnt = fresh();
  spec.rootfs = rootfs;
  spec.privileged = sc.privileged();
  spec.readonly_rootfs = sc.readonly_rootfs();

  // Volumes, then the pod's files where the volumes do not cover them.
  std::set<std::string> destinations;
  for (const auto& m : config.mounts()) {
    if (m.container_path().empty() || m.container_path()[0] != '/') {
      throw Error(Errc::invalid_argument, "mount: container_path \"" + m.container_path() + "\" is not absolute");
    }
    if (m.host_path().empty()) throw Error(Errc::invalid_argument, "mount " + m.container_path() + ": host_path is empty (image volumes are not supported)");
    struct stat st {};
    if (::stat(m.host_path().c_str(), &st) != 0) {
      throw Error(Errc::invalid_argument, "mount " + m.container_path() + ": host path " + m.host_path() +
                                              " does not exist");
    }
    container::BindMount b;
    b.source = m.host_path();
    b.destination = m.container_path();
    b.readonly = m.readonly();
    b.propagation = m.propagation() == v1::PROPAGATION_BIDIRECTIONAL     ? container::Propagation::rshared
                    : m.propagation() == v1::PROPAGATION_HOST_TO_CONTAINER ? container::Propagation::rslave
                                                                           : container::Propagation::private_;
    try {
      container::check_propagation_source(b.source, b.propagation);
    } catch (const Error& e) {
      throw Error(e.code(), "mount " + b.destination + ": " + e.what());
    }
    spec.mounts.push_back(b);
    destinations.insert(b.destination);
  }
  const std::pair<std::string, std::string> pod_files[] = {{pod_paths.hosts, "/etc/hosts"},
                                                           {pod_paths.resolv_conf, "/etc/resolv.conf"},
                                                           {pod_paths.hostname, "/etc/hostname"},
                                                           {pod_paths.shm, "/dev/shm"}};
  for (const auto& [source, destination] : pod_files) {
    if (destinations.count(destination)) continue;
    container::BindMount b;
    b.source = source;
    b.destination = destination;
    b.readonly = sc.readonly_rootfs() && destination != "/dev/shm";
    spec.mounts.push_back(b);
  }
  for (const auto& d : config.devices()) {
    auto nodes = container::host_devices(d.host_path(), d.container_path(), d.permissions());
    spec.devices.insert(spec.devices.end(), nodes.begin(), nodes.end());
  }
  if (!sc.privileged()) {
    spec.masked_paths = sc.masked_paths_size() > 0 ? std::vector<std::string>(sc.masked_paths().begin(), sc.masked_paths().end())
                                                   : default_masked_paths();
    spec.readonly_paths = sc.readonly_paths_size() > 0
                              ? std::vector<std::string>(sc.readonly_paths().begin(), sc.readonly_paths().end())
                              : default_readonly_paths();
  }

  auto& p = spec.process;
  p.args = container::resolve_command(image.config.entrypoint, image.config.cmd,
                                      {config.command().begin(), config.command().end()},
                                      {config.args().begin(), config.args().end()});
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& kv : config.envs()) env.emplace_back(kv.key(), kv.value());
  container::UserRequest user;
  if (sc.has_run_as_user()) user.uid = checked_id(sc.run_as_user().value(), "run_as_user");
  user.username = sc.run_as_username();
  if (sc.has_run_as_group()) user.gid = checked_id(sc.run_as_group().value(), "run_as_group");
  for (int64_t g : sc.supplemental_groups()) user.supplemental_groups.push_back(checked_id(g, "supplemental_groups"));
  user.image_user = image.config.user;
  const auto resolved = container::resolve_user(rootfs, user);
  p.uid = resolved.uid;
  p.gid = resolved.gid;
  p.additional_gids = resolved.additional_gids;
  p.env = container::merge_env(image.config.env, env, pod.hostname);
  bool has_home = false;
  for (const auto& e : p.env) has_home = has_home || e.rfind("HOME=", 0) == 0;
  if (!has_home) p.env.push_back("HOME=" + resolved.home);
  p.cwd = !config.working_dir().empty()      ? config.working_dir()
          : !image.config.working_dir.empty() ? image.config.working_dir
                                              : "/";
  p.capabilities = runtime::security::resolve_capabilities(
      {sc.capabilities().add_capabilities().begin(), sc.capabilities().add_capabilities().end()},
      {sc.capabilities().drop_capabilities().begin(), sc.capabilities().drop_capabilities().end()}, sc.privileged());
  p.no_new_privs = sc.no_new_privs();
  // As containerd: a privileged container is never confined by seccomp.
  p.seccomp = sc.privileged() ? container::SeccompSpec{} : seccomp_spec(sc);
  if (config.linux().has_resources() && config.linux().resources().oom_score_adj() != 0) {
    p.oom_score_adj = static_cast<int>(config.linux().resources().oom_score_adj());
  }
  return spec;
}

}  // namespace vpcri::cri

// Fuzz target: the CRI request handlers (cri/server), called in-process as the gRPC server calls
// them, with requests parsed from the input, against a fake runtime. The input is a sequence of
// calls, each 1 byte selecting the RPC (kCalls below, modulo its size), 2 bytes of length (little
// endian) and that many bytes of the serialized request; fuzz/make_cri_corpus.py writes seeds.
// Any gRPC status is fine but the INTERNAL one handle_rpc gives an exception that is not a
// vpcri::Error; that, a crash, a sanitizer report, a leak, a hang or an exception escaping a
// handler is a bug, and so is a broken invariant of the store (checked after every call).
//
// The fake runtime: every input starts a fresh RuntimeState whose root and state dirs are on a
// tmpfs, whose cgroup root is a tree of empty directories on it (HostOverrides), whose pod network
// is net::FakePodNetwork, with vpcri-init absent (so nothing is ever launched) and no image (so
// RunPodSandbox and CreateContainer stop after validation, at the image lookup). It holds a small
// world of records (kPod*, kContainer*: pods READY and NOTREADY, containers CREATED, RUNNING
// whose process is gone, EXITED) for the seeds to name, so the state machine runs for real:
// stop, remove, start up to the launch, update, exec up to the process lookup, status, stats.
// The process runs in a mount and network namespace of its own (made once, at start; root
// needed): the tmpfs is mounted there only, and an image pull finds no network and fails at once.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/log.h"
#include "cri/server/runtime_service.h"
#include "net/fake_pod_network.h"
#include "runtime/cgroup/root.h"
#include "runtime/container/spec.h"

namespace cri = vpcri::cri;
namespace v1 = ::runtime::v1;

namespace {

// The world every input starts from (ids are 64 hex characters, like real ones).
const std::string kPodReady(64, '1');
const std::string kPodNotReady(64, '2');            // host network
const std::string kContainerCreated(64, '3');       // in kPodReady
const std::string kContainerRunning(64, '4');       // in kPodReady; its process is gone (pid 0)
const std::string kContainerExited(64, '5');        // in kPodReady
const std::string kContainerOfNotReady(64, '6');    // EXITED, in kPodNotReady

constexpr size_t kMaxCalls = 32;  // per input: long inputs add no coverage, only time

std::string scratch;  // the tmpfs, mounted in this process's own mount namespace

void remove_scratch_dir() {
  ::umount2(scratch.c_str(), MNT_DETACH);
  ::rmdir(scratch.c_str());
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::fprintf(stderr, "fuzz_cri needs root: it runs in a mount and network namespace of its own\n");
  std::exit(1);
}

// stderr to /dev/null while it lives (error lines cannot be muted by level).
class QuietStderr {
 public:
  QuietStderr() : saved_(::dup(STDERR_FILENO)) {
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved_ < 0 || null < 0 || ::dup2(null, STDERR_FILENO) < 0) std::abort();
    ::close(null);
  }
  ~QuietStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_;
};

cri::SandboxRecord pod_record(const std::string& id, const std::string& name, bool ready, bool host_network) {
  cri::SandboxRecord r;
  r.id = id;
  auto* meta = r.config.mutable_metadata();
  meta->set_name(name);
  meta->set_namespace_("default");
  meta->set_uid("uid-" + name);
  r.config.set_log_directory(scratch + "/logs/" + name);
  if (host_network) r.config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  r.state = ready ? v1::SANDBOX_READY : v1::SANDBOX_NOTREADY;
  r.created_at = 1;
  r.owns_cgroup_parent = true;
  r.cgroup_parent = "/vpcri/" + id;
  r.hostname = name;
  return r;
}

cri::ContainerRecord container_record(const std::string& id, const cri::SandboxRecord& pod, const std::string& name,
                                      v1::ContainerState state) {
  cri::ContainerRecord r;
  r.id = id;
  r.sandbox_id = pod.id;
  r.config.mutable_metadata()->set_name(name);
  r.config.mutable_image()->set_image("docker.io/library/busybox:latest");
  r.config.set_log_path(name + "/0.log");
  r.image_id = "sha256:" + std::string(64, 'e');
  r.state = state;
  r.created_at = 2;
  if (state != v1::CONTAINER_CREATED) r.started_at = 3;
  if (state == v1::CONTAINER_EXITED) r.finished_at = 4;
  r.log_path = pod.config.log_directory() + "/" + r.config.log_path();
  vpcri::runtime::container::InitSpec spec;
  spec.process.args = {"/bin/sh"};
  spec.rootfs = scratch + "/state/containers/" + id + "/rootfs";
  r.init_spec = vpcri::runtime::container::init_spec_to_json(spec);
  r.cgroup_path = pod.cgroup_parent + "/" + id;
  return r;
}

// A fresh runtime holding the world above.
std::unique_ptr<cri::RuntimeState> fresh_state() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(scratch)) std::filesystem::remove_all(entry.path(), ec);
  cri::Config config;
  config.root = scratch + "/root";
  config.state = scratch + "/state";
  config.runtime.init_path = scratch + "/absent/vpcri-init";
  config.runtime.monitor_path = scratch + "/absent/vpcri-monitor";
  config.images.sandbox_image_archive = scratch + "/absent/pause-image.tar";
  cri::HostOverrides overrides;
  overrides.registry_max_attempts = 1;
  auto& cgroups = overrides.cgroup_root.emplace();
  cgroups.mode = vpcri::runtime::CgroupMode::legacy;
  for (const auto& controller : vpcri::runtime::cgroup::v1_controllers()) {
    cgroups.v1_mounts[controller] = scratch + "/cgroup/" + controller;
    std::filesystem::create_directories(cgroups.v1_mounts[controller]);
  }
  std::unique_ptr<cri::RuntimeState> state;
  {
    QuietStderr quiet;  // the one line it logs: vpcri-init is absent, as intended here
    state = std::make_unique<cri::RuntimeState>(config, overrides);
  }
  auto network = std::make_shared<vpcri::net::FakePodNetwork>();
  state->set_network(network);

  cri::Store& store = state->store();
  cri::SandboxRecord ready = pod_record(kPodReady, "web", true, false);
  ready.ip = network->attach({ready.id, "default", "web", scratch + "/netns", {}}).ip.to_string();
  const cri::SandboxRecord not_ready = pod_record(kPodNotReady, "host", false, true);
  for (const auto& pod : {ready, not_ready}) {
    store.save(pod);
    store.sandboxes.reserve_name(cri::sandbox_name(pod.config.metadata()), pod.id);
    store.sandboxes.insert(std::make_shared<cri::Sandbox>(pod));
  }
  for (const auto& c : {container_record(kContainerCreated, ready, "created", v1::CONTAINER_CREATED),
                        container_record(kContainerRunning, ready, "running", v1::CONTAINER_RUNNING),
                        container_record(kContainerExited, ready, "exited", v1::CONTAINER_EXITED),
                        container_record(kContainerOfNotReady, not_ready, "exited", v1::CONTAINER_EXITED)}) {
    store.save(c);
    const cri::SandboxRecord& pod = c.sandbox_id == ready.id ? ready : not_ready;
    store.containers.reserve_name(cri::container_name(pod, c.config.metadata()), c.id);
    store.containers.insert(std::make_shared<cri::Container>(c));
  }
  return state;
}

// After every call: no container without its pod.
void check_store(cri::RuntimeState& state) {
  for (const auto& c : state.store().containers.all()) {
    if (!state.store().sandboxes.find(c->get().sandbox_id)) __builtin_trap();
  }
}

struct Services {
  cri::RuntimeService runtime;
  cri::ImageService image;
};

bool trace = false;  // VPCRI_FUZZ_TRACE=1: each call and its status on stderr (what a seed reaches)

template <class Service, class Request, class Response>
void call(cri::RuntimeState& state, Service& service, const char* name,
          grpc::Status (Service::*method)(grpc::ServerContext*, const Request*, Response*), std::string_view bytes) {
  Request request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    if (trace) std::fprintf(stderr, "%s: unparsable request\n", name);
    return;
  }
  Response response;
  grpc::ServerContext context;
  const grpc::Status status = (service.*method)(&context, &request, &response);
  if (trace) std::fprintf(stderr, "%s: %d %s\n", name, status.error_code(), status.error_message().c_str());
  // handle_rpc's answer to an exception that is not a vpcri::Error: bad input must get a clear
  // error with its own code instead.
  if (status.error_code() == grpc::StatusCode::INTERNAL && status.error_message().find(": internal error") != std::string::npos) {
    std::fprintf(stderr, "internal error: %s\n", status.error_message().c_str());
    __builtin_trap();
  }
  if constexpr (std::is_same_v<Response, v1::RunPodSandboxResponse>) {
    if (status.ok() && !state.store().sandboxes.find(response.pod_sandbox_id())) __builtin_trap();
  }
  if constexpr (std::is_same_v<Response, v1::CreateContainerResponse>) {
    if (status.ok() && !state.store().containers.find(response.container_id())) __builtin_trap();
  }
  check_store(state);
}

// Every unary RPC, in selector order (fuzz/make_cri_corpus.py numbers them the same way: add new
// ones at the end). The streaming ones (GetContainerEvents, Stream*) need a live call to write
// to and are not fed.
#define VPCRI_FUZZ_CALLS(X)                                                                             \
  X(runtime, Version) X(runtime, Status) X(runtime, RuntimeConfig) X(runtime, UpdateRuntimeConfig)      \
  X(runtime, RunPodSandbox) X(runtime, StopPodSandbox) X(runtime, RemovePodSandbox)                     \
  X(runtime, PodSandboxStatus) X(runtime, ListPodSandbox) X(runtime, CreateContainer)                   \
  X(runtime, StartContainer) X(runtime, StopContainer) X(runtime, RemoveContainer)                      \
  X(runtime, ListContainers) X(runtime, ContainerStatus) X(runtime, UpdateContainerResources)           \
  X(runtime, ReopenContainerLog) X(runtime, ExecSync) X(runtime, Exec) X(runtime, Attach)               \
  X(runtime, PortForward) X(runtime, ContainerStats) X(runtime, ListContainerStats)                     \
  X(runtime, PodSandboxStats) X(runtime, ListPodSandboxStats) X(runtime, CheckpointContainer)           \
  X(runtime, ListMetricDescriptors) X(runtime, ListPodSandboxMetrics) X(runtime, UpdatePodSandboxResources) \
  X(image, ListImages) X(image, ImageStatus) X(image, PullImage) X(image, RemoveImage) X(image, ImageFsInfo)

using Call = void (*)(cri::RuntimeState&, Services&, std::string_view);
#define VPCRI_FUZZ_ENTRY(service, Name) \
  [](cri::RuntimeState& state, Services& s, std::string_view bytes) { call(state, s.service, #Name, &decltype(s.service)::Name, bytes); },
constexpr Call kCalls[] = {VPCRI_FUZZ_CALLS(VPCRI_FUZZ_ENTRY)};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vpcri::log::set_level(vpcri::log::Level::error);
  trace = std::getenv("VPCRI_FUZZ_TRACE") != nullptr;
  // Before any thread exists: a new mount namespace cannot be entered by a threaded process.
  if (::unshare(CLONE_NEWNS | CLONE_NEWNET) != 0) die("unshare");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("making / private");
  char tmpl[] = "/tmp/vpcri-fuzz-cri-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) die("mkdtemp");
  scratch = tmpl;
  if (::mount("tmpfs", scratch.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=0700") != 0) die("mounting a tmpfs");
  std::atexit(remove_scratch_dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto state = fresh_state();
  Services services{cri::RuntimeService(*state), cri::ImageService(*state)};
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (size_t calls = 0; input.size() >= 3 && calls < kMaxCalls; ++calls) {
    const auto selector = static_cast<uint8_t>(input[0]);
    const size_t length = static_cast<uint8_t>(input[1]) | static_cast<size_t>(static_cast<uint8_t>(input[2])) << 8;
    input.remove_prefix(3);
    const std::string_view request = input.substr(0, length);
    input.remove_prefix(request.size());
    kCalls[selector % std::size(kCalls)](*state, services, request);
  }
  return 0;
}

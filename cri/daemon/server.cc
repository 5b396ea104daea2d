#include "cri/daemon/server.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>

#include "build_info.h"
#include "common/fs.h"
#include "common/log.h"
#include "cri/daemon/lock_file.h"
#include "cri/daemon/sd_notify.h"
#include "cri/daemon/signals.h"
#include "cri/server/admin_service.h"
#include "cri/server/lifecycle.h"
#include "cri/server/observability.h"
#include "cri/server/request_log.h"
#include "cri/server/request_validation.h"
#include "cri/server/runtime_service.h"

namespace vpcri::cri {
namespace {

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A socket left by a crashed vpcrid is replaced; anything else at that path is not ours to delete.
void remove_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode)) {
    throw Error(Errc::failed_precondition, path + " exists and is not a socket; refusing to replace it");
  }
  if (::unlink(path.c_str()) != 0) throw_errno("remove stale socket " + path);
  log::info("removed stale socket", {{"path", path}});
}

}  // namespace

int run_daemon(const Config& config) {
  // The socket's directory first: with the defaults it is also the state dir, and only root
  // may enter it.
  const std::string socket_dir = parent_dir(config.socket);
  if (!fs::exists(socket_dir)) {
    fs::mkdir_p(socket_dir, 0700);
    if (::chmod(socket_dir.c_str(), 0700) != 0) throw_errno("chmod " + socket_dir);
  }
  fs::mkdir_p(config.root, 0711);
  fs::mkdir_p(config.state, 0711);

  LockFile root_lock(config.root + "/vpcrid.lock", "root directory " + config.root);
  LockFile socket_lock(config.socket + ".lock", "socket " + config.socket);
  remove_stale_socket(config.socket);

  RuntimeState state(config);
  state.preload_images();
  // Before serving: containers hold their images again, live monitors are watched again.
  recover(state);
  // Before serving too: every live pod keeps its IP, stale veths go. If networking cannot start
  // (no range yet), the daemon still serves and Status says why.
  state.start_network();
  state.start_streaming();
  Observability observability(state);
  RuntimeService runtime_service(state);
  ImageService image_service(state);
  AdminService admin_service(state);

  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + config.socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&runtime_service);
  builder.RegisterService(&image_service);
  builder.RegisterService(&admin_service);
  // Images and exec output can be large; kubelet itself allows 16 MiB messages.
  builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder.SetMaxSendMessageSize(kMaxGrpcMessageBytes);  // ExecSync cuts its output to fit
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<RequestLogFactory>(state.store()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) throw Error(Errc::unavailable, "cannot listen on unix socket " + config.socket);
  if (::chmod(config.socket.c_str(), 0660) != 0) throw_errno("chmod " + config.socket);

  log::info("vpcrid ready", {{"version", VPCRI_VERSION}, {"socket", config.socket}, {"root", config.root},
                             {"state", config.state}, {"config", config.source},
                             {"cgroup_mode", runtime::cgroup_mode_name(state.cgroup_mode())}});
  sd_notify("READY=1\nMAINPID=" + std::to_string(::getpid()));

  log::info("stopping", {{"signal", wait_for_stop_signal()}});
  sd_notify("STOPPING=1");
  // Event streams never finish by themselves: they end first, so only real work can hold up the
  // shutdown. In-flight requests get a few seconds to finish; then they are cancelled.
  state.events().close();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  ::unlink(config.socket.c_str());
  log::info("stopped");
  return 0;
}

}  // namespace vpcri::cri

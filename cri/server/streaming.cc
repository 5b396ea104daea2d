// Exec and PortForward: each checks the request, then hands out a single-use URL of the
// streaming server (cri/streaming/) whose session runs what was asked. Attach: attach.cc.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "cri/server/exec_spec.h"
#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/runtime_service.h"
#include "net/datapath/netns.h"
#include "runtime/container/exec_process.h"

namespace vpcri::cri {
namespace {

namespace container = runtime::container;

// runtime::container::ExecProcess as the streaming server's Process.
class StreamedExec final : public streaming::Process {
 public:
  explicit StreamedExec(std::unique_ptr<container::ExecProcess> p) : p_(std::move(p)) {}
  int stdin_fd() const override { return p_->stdin_fd(); }
  int stdout_fd() const override { return p_->stdout_fd(); }
  int stderr_fd() const override { return p_->stderr_fd(); }
  void close_stdin() override { p_->close_stdin(); }
  int exit_fd() const override { return p_->exit_fd(); }
  int wait() override { return p_->wait(); }
  void resize(streaming::WindowSize size) override { p_->resize(size.width, size.height); }

 private:
  std::unique_ptr<container::ExecProcess> p_;
};

// A TCP connection to localhost:port from inside the network namespace `netns_path` ("" = the
// host's). The socket stays in that namespace after the helper thread left it.
UniqueFd dial_localhost(const std::string& netns_path, uint16_t port) {
  auto connect_once = [port](int family) {
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket");
    timeval tv{5, 0};  // connect honours the send timeout: a full backlog cannot hang the session
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_storage addr{};
    socklen_t len;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      a->sin_family = AF_INET;
      a->sin_port = htons(port);
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(port);
      a->sin6_addr = in6addr_loopback;
      len = sizeof *a;
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      throw_errno("dial tcp localhost:" + std::to_string(port));
    }
    return fd;
  };
  auto dial_both = [&] {  // tcp4 then tcp6, as containerd
    try {
      return connect_once(AF_INET);
    } catch (const Error&) {
      try {
        return connect_once(AF_INET6);
      } catch (const Error&) {
      }
      throw;
    }
  };
  if (netns_path.empty()) return dial_both();
  return net::run_in_netns(net::NetNs::open(netns_path), dial_both);
}

}  // namespace

grpc::Status RuntimeService::Exec(grpc::ServerContext*, const v1::ExecRequest* req, v1::ExecResponse* resp) {
  return handle_rpc("Exec", [&] {
    if (req->container_id().empty()) throw Error(Errc::invalid_argument, "Exec: container_id is empty");
    if (req->cmd().empty()) throw Error(Errc::invalid_argument, "Exec: cmd is empty; give the command to run");
    if (req->tty() && req->stderr()) throw Error(Errc::invalid_argument, "Exec: tty and stderr cannot both be true");
    if (!req->stdin() && !req->stdout() && !req->stderr()) {
      throw Error(Errc::invalid_argument, "Exec: one of stdin, stdout, or stderr must be set");
    }
    std::vector<std::string> cmd(req->cmd().begin(), req->cmd().end());
    const std::string id = state_.store().containers.get(req->container_id())->id();
    exec_target(state_, id, cmd, "Exec");  // refuses a stopped container now, not at connect time

    auto request = std::make_shared<streaming::Request>();
    request->kind = streaming::Kind::exec;
    request->target = id;
    request->io = {req->stdin(), req->stdout(), req->stderr(), req->tty()};
    RuntimeState& state = state_;
    request->start = [&state, id, cmd](const streaming::ExecOptions& io, std::optional<streaming::WindowSize> size) {
      // The spec is built again at connect time: the container may have restarted meanwhile.
      ExecTarget target = exec_target(state, id, cmd, "Exec");
      container::ExecIo eio{io.stdin, io.stdout, io.stderr, io.tty, size ? size->width : uint16_t{0},
                            size ? size->height : uint16_t{0}};
      return std::make_unique<StreamedExec>(container::ExecProcess::start(state.binaries(), target.spec, eio, target.pidfd.get()));
    };
    resp->set_url(state_.streaming_url(std::move(request)));
  });
}

grpc::Status RuntimeService::PortForward(grpc::ServerContext*, const v1::PortForwardRequest* req,
                                         v1::PortForwardResponse* resp) {
  return handle_rpc("PortForward", [&] {
    if (req->pod_sandbox_id().empty()) throw Error(Errc::invalid_argument, "PortForward: pod_sandbox_id is empty");
    for (int32_t port : req->port()) {
      if (port < 1 || port > 65535) throw Error(Errc::invalid_argument, "PortForward: port " + std::to_string(port) + " is outside 1-65535");
    }
    const SandboxRecord r = state_.store().sandboxes.get(req->pod_sandbox_id())->get();
    if (r.state != v1::SANDBOX_READY) {
      throw Error(Errc::failed_precondition, "PortForward: pod sandbox " + r.id + " is not ready");
    }
    const std::string netns = is_host_network(r.config) ? "" : pod_paths(state_.store(), r.id).netns;
    auto request = std::make_shared<streaming::Request>();
    request->kind = streaming::Kind::port_forward;
    request->target = r.id;
    request->dial = [netns](uint16_t port) { return dial_localhost(netns, port); };
    resp->set_url(state_.streaming_url(std::move(request)));
  });
}

}  // namespace vpcri::cri

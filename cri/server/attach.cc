// Attach: checks the request, then hands out a single-use URL of the streaming server whose
// session joins the container's main process stdio through its monitor's attach socket
// (runtime/monitor/attach.h). The monitor owns that stdio, so an attach works whichever vpcrid
// started the container; no fd of the container enters vpcrid.
#include "cri/server/grpc_status.h"
#include "cri/server/lifecycle.h"
#include "cri/server/runtime_service.h"
#include "runtime/monitor/attach.h"
#include "runtime/monitor/monitor_state.h"
#include "runtime/monitor/process_ref.h"

namespace vpcri::cri {
namespace {

// The attach socket as the streaming server's Process. Its end detaches and leaves the
// container running.
class AttachedContainer final : public streaming::Process {
 public:
  AttachedContainer(runtime::AttachConnection conn, UniqueFd monitor_pidfd, bool with_stdin)
      : conn_(std::move(conn)), monitor_pidfd_(std::move(monitor_pidfd)), with_stdin_(with_stdin) {}
  int stdin_fd() const override { return with_stdin_ ? conn_.fd() : -1; }
  int stdout_fd() const override { return conn_.fd(); }  // both streams, told apart per message
  int stderr_fd() const override { return -1; }
  void close_stdin() override { conn_.close_stdin(); }
  int exit_fd() const override { return monitor_pidfd_.get(); }  // the monitor ends after the output
  int wait() override { return 0; }  // an attach that lasted until the container ended succeeded
  void resize(streaming::WindowSize size) override { conn_.resize(size.width, size.height); }
  ssize_t read_output(int, char* buf, size_t size, bool& is_stderr) override {
    return conn_.read_output(buf, size, is_stderr);
  }
  ssize_t write_stdin(const char* data, size_t size) override { return conn_.write_stdin(data, size); }

 private:
  runtime::AttachConnection conn_;
  UniqueFd monitor_pidfd_;
  bool with_stdin_;
};

// The monitor state directory of a running container, and a pidfd of its monitor.
std::pair<std::string, UniqueFd> running_monitor(RuntimeState& state, const std::string& id) {
  const ContainerRecord r = state.store().containers.get(id)->get();
  auto not_running = [&] { return Error(Errc::failed_precondition, "Attach: container " + r.id + " is not running"); };
  if (r.state != v1::CONTAINER_RUNNING) throw not_running();
  std::string dir = container_monitor_dir(state.store(), r.id);
  auto monitor = runtime::read_monitor_ref(dir);
  UniqueFd pidfd = monitor ? runtime::open_pidfd(*monitor) : UniqueFd();
  if (!pidfd) throw not_running();
  return {dir, std::move(pidfd)};
}

}  // namespace

grpc::Status RuntimeService::Attach(grpc::ServerContext*, const v1::AttachRequest* req, v1::AttachResponse* resp) {
  return handle_rpc("Attach", [&] {
    if (req->container_id().empty()) throw Error(Errc::invalid_argument, "Attach: container_id is empty");
    if (req->tty() && req->stderr()) throw Error(Errc::invalid_argument, "Attach: tty and stderr cannot both be true");
    if (!req->stdin() && !req->stdout() && !req->stderr()) {
      throw Error(Errc::invalid_argument, "Attach: one of stdin, stdout, or stderr must be set");
    }
    const std::string id = state_.store().containers.get(req->container_id())->id();
    running_monitor(state_, id);  // refuses a stopped container now, not at connect time

    auto request = std::make_shared<streaming::Request>();
    request->kind = streaming::Kind::attach;
    request->target = id;
    request->io = {req->stdin(), req->stdout(), req->stderr(), req->tty()};
    RuntimeState& state = state_;
    request->start = [&state, id](const streaming::ExecOptions& io, std::optional<streaming::WindowSize> size) {
      auto [dir, pidfd] = running_monitor(state, id);  // it may have ended since the RPC
      auto conn = runtime::AttachConnection::connect(dir, io.stdin);
      if (size) conn.resize(size->width, size->height);
      return std::make_unique<AttachedContainer>(std::move(conn), std::move(pidfd), io.stdin);
    };
    resp->set_url(state_.streaming_url(std::move(request)));
  });
}

}  // namespace vpcri::cri

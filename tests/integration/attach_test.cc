// Attach through the CRI against the real vpcrid: the RPC returns a URL, our SPDY client
// upgrades it and joins the container's main process stdio, which its vpcri-monitor owns (a pty
// with tty, pipes without), also after vpcrid restarted. Interactive sessions are driven frame by
// frame: send a command on stdin, read its output, detach or let the container end.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/fs.h"
#include "cri/streaming/client.h"
#include "cri/streaming/remote_command.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace streaming = vpcri::streaming;
using namespace std::chrono_literals;

namespace {

v1::PodSandboxConfig pod_config(const std::string& name, const std::string& log_dir) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.set_hostname(name);
  c.set_log_directory(log_dir);
  return c;
}

// Creates and starts a container running `command` with the given stdio settings.
std::string run_attachable(Daemon& d, const Pod& pod, const std::string& name, std::vector<std::string> command,
                           bool in, bool tty, bool once) {
  v1::ContainerConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_image()->set_image(kTestImage);
  for (auto& c : command) config.add_command(c);
  config.set_stdin(in);
  config.set_tty(tty);
  config.set_stdin_once(once);
  config.set_log_path(name + ".log");
  return run_container(d, pod, config);
}

grpc::Status attach(Daemon& d, const std::string& id, bool in, bool out, bool err, bool tty, std::string* url) {
  v1::AttachRequest req;
  req.set_container_id(id);
  req.set_stdin(in);
  req.set_stdout(out);
  req.set_stderr(err);
  req.set_tty(tty);
  v1::AttachResponse resp;
  grpc::Status s = d.runtime().Attach(context().get(), req, &resp);
  *url = resp.url();
  return s;
}

// An attach session as kubectl opens it (error, stdin, stdout, stderr or resize), driven by the test.
class AttachSession {
 public:
  AttachSession(Daemon& d, const std::string& id, bool tty, std::optional<streaming::WindowSize> size = {}) {
    std::string url;
    grpc::Status s = attach(d, id, true, true, !tty, tty, &url);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    CHECK(url.find("/attach/") != std::string::npos);
    u_ = streaming::upgrade(url, streaming::remote_command_protocols());
    streaming::Connection& c = *u_.conn;
    error_ = c.open_stream({{"streamtype", "error"}});
    stdin_ = c.open_stream({{"streamtype", "stdin"}});
    stdout_ = c.open_stream({{"streamtype", "stdout"}});
    if (!tty) stderr_ = c.open_stream({{"streamtype", "stderr"}});
    if (tty) resize_ = c.open_stream({{"streamtype", "resize"}});
    if (tty && size) {
      c.data(resize_, R"({"Width":)" + std::to_string(size->width) + R"(,"Height":)" + std::to_string(size->height) + "}\n");
    }
  }
  void send(const std::string& text) { u_.conn->data(stdin_, text); }
  void close_stdin() { u_.conn->data(stdin_, {}, true); }
  void detach() { u_.conn->close(); }

  // Reads until `done` (or the end of the session, or 20 s); true if `done`.
  bool read_until(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!done()) {
      if (ended || std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{u_.conn->fd(), POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      if (!u_.conn->read_some()) {
        ended = true;
        continue;
      }
      while (auto r = u_.conn->next()) {
        const auto& f = r->frame;
        if (f.type != vpcri::streaming::spdy::Type::data) continue;
        if (f.stream_id == stdout_) out += f.data;
        if (f.stream_id == stderr_) err += f.data;
        if (f.stream_id == error_) status += f.data;
        if (f.stream_id == error_ && f.fin()) ended = true;
      }
    }
    return true;
  }
  bool read_until_out(const std::string& text) {
    return read_until([&] { return out.find(text) != std::string::npos; });
  }
  bool read_to_end() { return read_until([&] { return ended; }); }

  std::string out, err, status;
  bool ended = false;

 private:
  streaming::Upgraded u_;
  uint32_t error_ = 0, stdin_ = 0, stdout_ = 0, stderr_ = 0, resize_ = 0;
};

// A daemon and a pod whose containers log to `logs`.
struct PodWithLogs {
  explicit PodWithLogs(const std::string& name) {
    d.set_config(pods_config_yaml());
    d.start();
    logs = d.dir() + "/pod-logs";
    std::filesystem::create_directories(logs);
    pod.emplace(d, pod_config(name, logs));
  }
  Daemon d;
  std::string logs;
  std::optional<Pod> pod;  // removed before the daemon stops
};

bool eventually_exited(Daemon& d, const std::string& id, int exit_code) {
  for (int i = 0; i < 200; i++) {
    v1::ContainerStatus st = container_status(d, id);
    if (st.state() == v1::CONTAINER_EXITED) return st.exit_code() == exit_code;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace

TEST_CASE("Attach with a tty: the shell's terminal, resized, logged, and still there after a vpcrid restart") {
  PodWithLogs f("attach-tty");
  Daemon& d = f.d;
  const Pod& pod = *f.pod;
  const std::string& logs = f.logs;
  std::string ctr = run_attachable(d, pod, "shell", {"/bin/sh"}, true, true, false);
  {
    AttachSession a(d, ctr, true, streaming::WindowSize{123, 45});
    a.send("stty size; [ -t 0 ] && echo term''inal; echo mark''er1\n");  // quotes: the echoed line does not match
    CHECK_MESSAGE(a.read_until_out("marker1"), a.out);
    CHECK(a.out.find("45 123\r\n") != std::string::npos);
    CHECK(a.out.find("terminal\r\n") != std::string::npos);
    a.detach();  // the container goes on
  }
  CHECK(container_status(d, ctr).state() == v1::CONTAINER_RUNNING);

  REQUIRE(d.stop(SIGTERM) == 0);
  d.start();
  {
    AttachSession a(d, ctr, true);
    a.send("echo after''restart; exit 7\n");
    CHECK_MESSAGE(a.read_until_out("afterrestart"), a.out);
    CHECK(a.read_to_end());
    CHECK(a.status == R"({"metadata":{},"status":"Success"})");
  }
  CHECK(eventually_exited(d, ctr, 7));
  std::string log = vpcri::fs::read_file(logs + "/shell.log");
  CHECK(log.find(" stdout F marker1") != std::string::npos);
  CHECK(log.find(" stdout F afterrestart") != std::string::npos);
}

TEST_CASE("Attach without a tty: stdin is a pipe that outlives attachers; stdout and stderr apart") {
  PodWithLogs f("attach-pipe");
  Daemon& d = f.d;
  const Pod& pod = *f.pod;
  const std::string& logs = f.logs;
  std::string ctr = run_attachable(d, pod, "shell", {"/bin/sh"}, true, false, false);
  {
    AttachSession a(d, ctr, false);
    a.send("echo out1; echo err1 >&2\n");
    CHECK(a.read_until([&] { return a.out == "out1\n" && a.err == "err1\n"; }));
    a.close_stdin();  // without stdin_once the container's stdin stays open for the next attacher
    a.detach();
  }
  {
    AttachSession a(d, ctr, false);
    a.send("echo out2; exit 3\n");
    CHECK(a.read_to_end());
    CHECK(a.out == "out2\n");
    CHECK(a.status == R"({"metadata":{},"status":"Success"})");
  }
  CHECK(eventually_exited(d, ctr, 3));
  std::string log = vpcri::fs::read_file(logs + "/shell.log");
  CHECK(log.find(" stdout F out1") != std::string::npos);
  CHECK(log.find(" stderr F err1") != std::string::npos);
  CHECK(log.find(" stdout F out2") != std::string::npos);

  SUBCASE("stdin_once: the first attacher's end of stdin is the container's") {
    std::string once = run_attachable(d, pod, "once", {"/bin/sh", "-c", "cat; echo cat-ended; exec sleep 1000"}, true,
                                      false, true);
    AttachSession a(d, once, false);
    a.send("abc\n");
    CHECK(a.read_until_out("abc\n"));
    a.close_stdin();
    CHECK_MESSAGE(a.read_until_out("cat-ended"), a.out);
    a.detach();
  }

  SUBCASE("vpcrictl attach -i passes stdin on and prints the output") {
    RunResult r = run({"/bin/sh", "-c", "printf 'echo via''ctl; echo oops >&2\\n' | \"$0\" -r \"$1\" attach -i \"$2\"",
                       binary("VPCRICTL"), d.socket(), ctr});
    // The container exited above: Attach refuses it.
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("not running") != std::string::npos);
    std::string live = run_attachable(d, pod, "live", {"/bin/sh"}, true, false, false);
    r = run({"/bin/sh", "-c", "printf 'echo via''ctl; echo oops >&2; exit 0\\n' | \"$0\" -r \"$1\" attach -i \"$2\"",
             binary("VPCRICTL"), d.socket(), live});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "viactl\n");
    CHECK(r.err == "oops\n");
  }

  SUBCASE("vpcrictl attach --websocket: the same over WebSocket v5, stdin EOF as [255, 0]") {
    std::string live = run_attachable(d, pod, "ws", {"/bin/sh"}, true, false, true);  // stdin_once
    RunResult r = run({"/bin/sh", "-c", "printf 'echo via''ws; echo oops >&2\\n' | \"$0\" -r \"$1\" attach --websocket -i \"$2\"",
                       binary("VPCRICTL"), d.socket(), live});
    // Our stdin's EOF closed the container's (stdin_once): the shell read it all and ended.
    CHECK(r.exit_code == 0);
    CHECK(r.out == "viaws\n");
    CHECK(r.err == "oops\n");
    CHECK(eventually_exited(d, live, 0));
  }
}

TEST_CASE("Attach refuses bad requests and containers that do not run") {
  Daemon d;
  d.set_config(pods_config_yaml());
  d.start();
  Pod pod(d, pod_config("attach-bad", ""));
  std::string url;
  CHECK(attach(d, "", true, true, false, false, &url).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(attach(d, "nosuch", true, true, false, false, &url).error_code() == grpc::StatusCode::NOT_FOUND);
  std::string done = run_attachable(d, pod, "done", {"/bin/true"}, false, false, false);
  CHECK(eventually_exited(d, done, 0));
  grpc::Status s = attach(d, done, false, true, true, false, &url);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message().find("not running") != std::string::npos);
  std::string live = run_attachable(d, pod, "live", {"/bin/sh", "-c", "exec sleep 1000"}, false, false, false);
  s = attach(d, live, false, true, true, true, &url);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("tty and stderr") != std::string::npos);
  CHECK(attach(d, live, false, false, false, false, &url).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // An output-only attach to a container without stdin works, and detaching leaves it running.
  REQUIRE(attach(d, live, false, true, true, false, &url).ok());
  streaming::Upgraded u = streaming::upgrade(url, streaming::remote_command_protocols());
  u.conn->open_stream({{"streamtype", "error"}});
  u.conn->open_stream({{"streamtype", "stdout"}});
  u.conn->open_stream({{"streamtype", "stderr"}});
  u.conn->close();
  std::this_thread::sleep_for(200ms);
  CHECK(container_status(d, live).state() == v1::CONTAINER_RUNNING);
}

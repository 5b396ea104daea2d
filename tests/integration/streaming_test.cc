// Exec and PortForward through the CRI against the real vpcrid: the RPC returns a URL, our SPDY
// or WebSocket client (cri/streaming/client.h, as vpcrictl uses it) upgrades it and runs the
// session; `vpcrictl exec -i -t` also runs on a pty the test opens. Traffic stays on loopback
// and inside the pods' own network namespaces.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <thread>

#include "common/fd.h"
#include "cri/streaming/client.h"
#include "cri/streaming/http.h"
#include "cri/streaming/port_forward.h"
#include "cri/streaming/remote_command.h"
#include "cri/streaming/test_support.h"
#include "cri/streaming/websocket_endpoint.h"
#include "cri/streaming/websocket_tunnel.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace streaming = vpcri::streaming;
using namespace std::chrono_literals;
using vpcri::UniqueFd;
using namespace vpcri::streaming::test;

namespace {

v1::PodSandboxConfig pod_config(const std::string& name) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("uid-" + name);
  c.set_hostname(name);
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return c;
}

std::string exec_url(Daemon& d, const std::string& id, std::vector<std::string> cmd, bool in, bool out, bool err,
                     bool tty) {
  v1::ExecRequest req;
  req.set_container_id(id);
  for (auto& c : cmd) req.add_cmd(c);
  req.set_stdin(in);
  req.set_stdout(out);
  req.set_stderr(err);
  req.set_tty(tty);
  v1::ExecResponse resp;
  grpc::Status s = d.runtime().Exec(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp.url();
}

std::string exec_sync_out(Daemon& d, const std::string& id, const std::string& script) {
  v1::ExecSyncRequest req;
  req.set_container_id(id);
  for (const char* a : {"/bin/sh", "-c"}) req.add_cmd(a);
  req.add_cmd(script);
  v1::ExecSyncResponse resp;
  grpc::Status s = d.runtime().ExecSync(context(30s).get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp.stdout();
}

UniqueFd memfd() { return UniqueFd(::memfd_create("out", MFD_CLOEXEC)); }

// A pipe whose read end yields `data`, then EOF.
UniqueFd input(const std::string& data) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  REQUIRE(::write(p[1], data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  ::close(p[1]);
  return UniqueFd(p[0]);
}

struct ExecRun {
  streaming::ExecOutcome outcome;
  std::string out, err;
};

ExecRun run_exec(const std::string& url, const std::string& in, bool tty = false,
                 std::optional<streaming::WindowSize> size = std::nullopt) {
  streaming::Upgraded u = streaming::upgrade(url, streaming::remote_command_protocols());
  CHECK(u.protocol == "v4.channel.k8s.io");
  UniqueFd in_fd = input(in), out = memfd(), err = memfd();
  streaming::ExecClientIo io;
  io.in = in_fd.get();
  io.out = out.get();
  io.err = tty ? -1 : err.get();
  io.tty = tty;
  io.size = size;
  ExecRun r;
  r.outcome = streaming::run_exec_client(*u.conn, u.protocol, io);
  r.out = contents(out.get());
  r.err = contents(err.get());
  return r;
}

// A raw TCP connection to the streaming server of `url`.
UniqueFd connect_to(const std::string& url) {
  size_t colon = url.find(':', 7), slash = url.find('/', 7);
  return connect_loopback(static_cast<uint16_t>(std::stoi(url.substr(colon + 1, slash - colon - 1))));
}

std::string path_of(const std::string& url) { return url.substr(url.find('/', 7)); }

size_t open_fds(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) n++;
  return n;
}

// `vpcrictl ARGS` on a pty of the test's own, the slave its controlling terminal and stdio (as a
// user's shell runs it). Killed (by PID) and reaped if the test ends first.
class OnTerminal {
 public:
  OnTerminal(const std::vector<std::string>& argv, winsize size) {
    int master = -1, slave = -1;
    REQUIRE(::openpty(&master, &slave, nullptr, nullptr, &size) == 0);
    master_ = UniqueFd(master);
    slave_ = UniqueFd(slave);
    REQUIRE(::fcntl(master, F_SETFD, FD_CLOEXEC) == 0);
    REQUIRE(::fcntl(slave, F_SETFD, FD_CLOEXEC) == 0);
    REQUIRE(::tcgetattr(master, &initial_) == 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      ::setsid();
      ::ioctl(slave, TIOCSCTTY, 0);
      for (int fd = 0; fd < 3; fd++) ::dup2(slave, fd);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~OnTerminal() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  OnTerminal(const OnTerminal&) = delete;
  OnTerminal& operator=(const OnTerminal&) = delete;

  pid_t pid() const { return pid_; }
  termios initial() const { return initial_; }
  termios current() const {
    termios t{};
    ::tcgetattr(master_.get(), &t);  // a pty's settings, read through its master
    return t;
  }
  void type(const std::string& text) {
    REQUIRE(::write(master_.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
  void resize(winsize size) { REQUIRE(::ioctl(master_.get(), TIOCSWINSZ, &size) == 0); }

  // Reads what the terminal shows until `done` holds (or 20 s pass); true if it did.
  bool read_until(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{master_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(master_.get(), buf, sizeof buf);
      if (n > 0) screen.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Waits for vpcrictl's exit (reading what it still writes); its exit code, or -1.
  int wait_exit() {
    int status = 0;
    bool exited = read_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; });
    if (!exited) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string screen;  // everything read from the master

 private:
  UniqueFd master_, slave_;  // the slave stays open here, so the master reads no EIO between children
  termios initial_{};
  pid_t pid_ = -1;
};

// The last "ROWS COLS" line `stty size` printed on `screen` from `from` on, or "".
std::string last_stty_size(const std::string& screen, size_t from) {
  static const std::regex size_line("\\r\\n(\\d+ \\d+)\\r\\n");
  std::string found;
  std::string tail = screen.substr(std::min(from, screen.size()));
  for (std::sregex_iterator it(tail.begin(), tail.end(), size_line), end; it != end; ++it) found = (*it)[1];
  return found;
}

const std::string kGetIndex = "GET /index.html HTTP/1.0\r\n\r\n";

// A v4.channel.k8s.io port forward session to `ports` that sends an HTTP GET on each data channel
// and collects every channel until the server closes.
std::map<int, std::string> websocket_get(const std::string& url, const std::string& ports) {
  namespace ws = vpcri::streaming::websocket;
  std::string rest, protocol;
  UniqueFd fd = streaming::websocket_connect(url + "?port=" + ports, "v4.channel.k8s.io", rest, protocol);
  CHECK(protocol == "v4.channel.k8s.io");
  ws::Endpoint server(fd.get(), ws::Endpoint::Role::client, rest);
  for (int channel = 0; channel <= 2 * static_cast<int>(std::count(ports.begin(), ports.end(), ',')); channel += 2) {
    ws::send_channel(server, false, static_cast<uint8_t>(channel), kGetIndex);
  }
  std::map<int, std::string> channels;
  for (;;) {
    while (auto m = server.next()) {
      if (auto message = ws::decode_channel(*m, false)) channels[message->first] += message->second;
    }
    pollfd p{fd.get(), POLLIN, 0};
    if (server.peer_closed() || ::poll(&p, 1, 10000) <= 0 || !server.read_some()) break;
  }
  CHECK(server.peer_closed());
  return channels;
}

std::string port_le(uint16_t port) { return {static_cast<char>(port & 0xff), static_cast<char>(port >> 8)}; }

// A free loopback port (bound, then released).
uint16_t free_port() {
  uint16_t port = 0;
  loopback_listener(port);
  return port;
}

// An HTTP GET through a local port that may not listen yet (retried for 10 s).
std::string get_through(uint16_t port) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    try {
      UniqueFd c = connect_loopback(port);
      vpcri::streaming::http::write_all(c.get(), kGetIndex);
      return read_to_eof(c.get());
    } catch (const std::runtime_error&) {
      if (std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(50ms);
    }
  }
}

}  // namespace

TEST_CASE("streaming Exec and PortForward through the CRI") {
  Daemon d;
  d.set_config(pods_config_yaml() + "streaming:\n  token_ttl_seconds: 2\n  stream_creation_timeout_seconds: 3\n");
  d.start();
  Pod pod(d, pod_config("stream"));
  std::string ctr = run_shell_container(d, pod, "web",
                                        "mkdir -p /w1 /w2; echo one > /w1/index.html; echo two > /w2/index.html; "
                                        "httpd -p 8080 -h /w1; httpd -p 8081 -h /w2; exec sleep 1000",
                                        v1::CONTAINER);

  SUBCASE("exec without a tty: stdin piped, stdout and stderr apart, the exit code on the error stream") {
    std::string url = exec_url(d, ctr, {"/bin/sh", "-c", "cat; echo oops >&2; exit 3"}, true, true, true, false);
    CHECK(url.rfind("http://127.0.0.1:", 0) == 0);
    CHECK(url.find("/exec/") != std::string::npos);
    ExecRun r = run_exec(url, "hello\nworld\n");
    CHECK(r.out == "hello\nworld\n");
    CHECK(r.err == "oops\n");
    CHECK(r.outcome.exit_code == 3);
    CHECK(r.outcome.status.find(R"("reason":"NonZeroExitCode")") != std::string::npos);
    CHECK(r.outcome.status.find(R"("details":{"causes":[{"reason":"ExitCode","message":"3"}]})") != std::string::npos);

    r = run_exec(exec_url(d, ctr, {"id", "-u"}, false, true, true, false), "");
    CHECK(r.out == "0\n");
    CHECK(r.outcome.status == R"({"metadata":{},"status":"Success"})");
  }

  SUBCASE("exec with a tty: a real terminal of the size the resize stream sent") {
    std::string url = exec_url(d, ctr, {"/bin/sh", "-c", "stty size; [ -t 0 ] && [ -t 1 ] && echo terminal"}, true, true, false, true);
    ExecRun r = run_exec(url, "", true, streaming::WindowSize{123, 45});
    CHECK(r.out.find("45 123\r\n") == 0);
    CHECK(r.out.find("\r\nterminal\r\n") != std::string::npos);
    CHECK(r.outcome.exit_code == 0);
  }

  SUBCASE("vpcrictl exec -i streams through Exec and exits with the command's code") {
    RunResult r = run({binary("VPCRICTL"), "-r", d.socket(), "exec", "-i", ctr, "/bin/sh", "-c",
                       "echo out; echo err >&2; exit 4"});
    CHECK(r.exit_code == 4);
    CHECK(r.out == "out\n");
    CHECK(r.err == "err\n");
  }

  SUBCASE("vpcrictl exec -i -t on a terminal: raw mode, the size, a resize, the exit code, the terminal restored") {
    OnTerminal term({binary("VPCRICTL"), "-r", d.socket(), "exec", "-i", "-t", ctr, "sh"}, winsize{40, 100, 0, 0});
    REQUIRE((term.initial().c_lflag & (ICANON | ECHO)) == (ICANON | ECHO));
    // vpcrictl puts the terminal in raw mode once its SIGWINCH handling is in place.
    REQUIRE(term.read_until([&] { return (term.current().c_lflag & (ICANON | ECHO)) == 0; }));
    size_t mark = term.screen.size();
    term.type("stty size\r");
    CHECK_MESSAGE(term.read_until([&] { return !last_stty_size(term.screen, mark).empty(); }), term.screen);
    CHECK(last_stty_size(term.screen, mark) == "40 100");

    // The new size reaches the remote terminal through SIGWINCH and the resize stream, on its own
    // path beside stdin: ask again until it shows (or the deadline).
    term.resize(winsize{50, 120, 0, 0});
    REQUIRE(::kill(term.pid(), SIGWINCH) == 0);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (last_stty_size(term.screen, mark) != "50 120" && std::chrono::steady_clock::now() < deadline) {
      mark = term.screen.size();
      term.type("stty size\r");
      term.read_until([&] { return !last_stty_size(term.screen, mark).empty(); });
    }
    CHECK_MESSAGE(last_stty_size(term.screen, mark) == "50 120", term.screen);

    term.type("exit 3\r");
    CHECK_MESSAGE(term.wait_exit() == 3, term.screen);
    termios after = term.current();
    CHECK(after.c_lflag == term.initial().c_lflag);
    CHECK(after.c_iflag == term.initial().c_iflag);
    CHECK(after.c_oflag == term.initial().c_oflag);
  }

  SUBCASE("a start failure is reported on the error stream") {
    ExecRun r = run_exec(exec_url(d, ctr, {"/no/such/binary"}, false, true, true, false), "");
    CHECK(r.outcome.exit_code != 0);
    CHECK(r.outcome.status.find("InternalError") != std::string::npos);
    CHECK(r.outcome.status.find("/no/such/binary") != std::string::npos);
  }

  SUBCASE("tokens: single use, expire, unknown ones 404; bad requests get clear HTTP errors") {
    std::string url = exec_url(d, ctr, {"true"}, false, true, true, false);
    CHECK(run_exec(url, "").outcome.exit_code == 0);
    CHECK_THROWS_WITH_AS(streaming::upgrade(url, streaming::remote_command_protocols()),
                         doctest::Contains("404"), vpcri::Error);
    std::string late = exec_url(d, ctr, {"true"}, false, true, true, false);
    std::this_thread::sleep_for(2500ms);  // the TTL configured above: 2 s
    CHECK_THROWS_WITH_AS(streaming::upgrade(late, streaming::remote_command_protocols()),
                         doctest::Contains("404"), vpcri::Error);
    CHECK_THROWS_WITH_AS(streaming::upgrade(url.substr(0, url.rfind('/') + 1) + "AAAAAAAAAAA",
                                            streaming::remote_command_protocols()),
                         doctest::Contains("404"), vpcri::Error);
    // A port forward token is not an exec token.
    v1::PortForwardRequest pf;
    pf.set_pod_sandbox_id(pod.id());
    v1::PortForwardResponse pf_resp;
    REQUIRE(d.runtime().PortForward(context().get(), pf, &pf_resp).ok());
    std::string wrong = pf_resp.url();
    wrong.replace(wrong.find("/portforward/"), 13, "/exec/");
    CHECK_THROWS_WITH_AS(streaming::upgrade(wrong, streaming::remote_command_protocols()),
                         doctest::Contains("404"), vpcri::Error);
    // No protocol in common: 403; no protocol header: 400; oversized head: 431.
    CHECK_THROWS_WITH_AS(streaming::upgrade(exec_url(d, ctr, {"true"}, false, true, true, false), {"v9.channel.k8s.io"}),
                         doctest::Contains("403"), vpcri::Error);
    CHECK_THROWS_WITH_AS(streaming::upgrade(exec_url(d, ctr, {"true"}, false, true, true, false), {}),
                         doctest::Contains("400"), vpcri::Error);
    UniqueFd raw = connect_to(url);
    std::string huge = "GET " + path_of(url) + " HTTP/1.1\r\nX-Junk: " + std::string(20000, 'a') + "\r\n\r\n";
    vpcri::streaming::http::write_all(raw.get(), huge);
    std::string answer = read_to_eof(raw.get());
    CHECK_MESSAGE(answer.rfind("HTTP/1.1 431", 0) == 0, answer);
    // RPC-time checks.
    v1::ExecRequest bad;
    bad.set_container_id(ctr);
    bad.add_cmd("sh");
    bad.set_tty(true);
    bad.set_stderr(true);
    v1::ExecResponse resp;
    CHECK(d.runtime().Exec(context().get(), bad, &resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }

  SUBCASE("garbage frames and vanished clients end the session, not the daemon; nothing leaks") {
    // Warm up: the first session creates what stays (threads' stacks are not fds).
    CHECK(run_exec(exec_url(d, ctr, {"true"}, false, true, true, false), "").outcome.exit_code == 0);
    pid_t daemon_pid = d.pid();
    size_t fds_before = open_fds(daemon_pid);

    for (const std::string& garbage :
         {std::string("\x80\x03\x00\x0a\x00\x00\x00\x00", 8),                  // unknown control type
          std::string("\x80\x03\x00\x01\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00junk", 22),  // bad zlib
          std::string("\x00\x00\x00\x01\x00\xff\xff\xff", 8),                  // 16 MiB DATA frame
          std::string(1000, 'z')}) {
      std::string url = exec_url(d, ctr, {"sleep", "777"}, true, true, true, false);
      UniqueFd raw = connect_to(url);
      std::string req = "POST " + path_of(url) +
                        " HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                        "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n";
      REQUIRE(vpcri::streaming::http::write_all(raw.get(), req + garbage));
      std::string answer = read_to_eof(raw.get());  // the server closes: recv returns 0, not a timeout
      CHECK(answer.rfind("HTTP/1.1 101", 0) == 0);
    }

    // A client that opened every stream, started `sleep 777`, and vanished: the process goes too.
    {
      std::string url = exec_url(d, ctr, {"sleep", "777"}, false, true, true, false);
      streaming::Upgraded u = streaming::upgrade(url, streaming::remote_command_protocols());
      u.conn->open_stream({{"streamtype", "error"}});
      u.conn->open_stream({{"streamtype", "stdout"}});
      u.conn->open_stream({{"streamtype", "stderr"}});
      auto deadline = std::chrono::steady_clock::now() + 10s;
      while (exec_sync_out(d, ctr, "ps | grep -c '[s]leep 777' || true") != "1\n" &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
      }
      CHECK(exec_sync_out(d, ctr, "ps | grep -c '[s]leep 777' || true") == "1\n");
    }  // the connection closes here
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (exec_sync_out(d, ctr, "ps | grep -c '[s]leep 777' || true") != "0\n" &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
    }
    CHECK(exec_sync_out(d, ctr, "ps | grep -c '[s]leep 777' || true") == "0\n");

    // A client that never opens its streams is dropped after the creation timeout (3 s here).
    {
      streaming::Upgraded u = streaming::upgrade(exec_url(d, ctr, {"true"}, false, true, true, false),
                                                 streaming::remote_command_protocols());
      timeval tv{10, 0};
      ::setsockopt(u.conn->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      read_to_eof(u.conn->fd());
    }

    // The daemon still serves, and holds no more fds than before (sessions end asynchronously).
    CHECK(run_exec(exec_url(d, ctr, {"echo", "alive"}, false, true, true, false), "").out == "alive\n");
    deadline = std::chrono::steady_clock::now() + 10s;
    while (open_fds(daemon_pid) > fds_before && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
    }
    CHECK(open_fds(daemon_pid) <= fds_before);
  }

  SUBCASE("port forward: two ports at once through one connection, into the pod's network namespace") {
    v1::PortForwardRequest req;
    req.set_pod_sandbox_id(pod.id());
    v1::PortForwardResponse resp;
    grpc::Status s = d.runtime().PortForward(context().get(), req, &resp);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    CHECK(resp.url().find("/portforward/") != std::string::npos);
    wait_tcp_listening(d, ctr, 8080);
    wait_tcp_listening(d, ctr, 8081);  // httpd may still be starting
    streaming::Upgraded u = streaming::upgrade(resp.url(), {streaming::kPortForwardProtocol});
    CHECK(u.protocol == streaming::kPortForwardProtocol);
    uint16_t local1 = 0, local2 = 0;
    UniqueFd l1 = loopback_listener(local1), l2 = loopback_listener(local2);
    UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
    std::string ended;
    std::thread client([&] {
      ended = streaming::run_port_forward_client(*u.conn, {{l1.get(), 8080}, {l2.get(), 8081}}, stop.get());
    });
    std::string url1 = "http://127.0.0.1:" + std::to_string(local1) + "/";
    std::string url2 = "http://127.0.0.1:" + std::to_string(local2) + "/";
    // Both connections open before either is read: they run side by side.
    std::vector<UniqueFd> conns;
    for (int round = 0; round < 3; round++) {
      conns.clear();
      for (const auto& u2 : {url1, url2, url1, url2}) {
        conns.push_back(connect_to(u2));
        vpcri::streaming::http::write_all(conns.back().get(), "GET /index.html HTTP/1.0\r\n\r\n");
      }
      for (size_t i = 0; i < conns.size(); i++) {
        std::string answer = read_to_eof(conns[i].get());
        CHECK(answer.rfind("HTTP/1.", 0) == 0);
        CHECK(answer.find(i % 2 == 0 ? "\r\n\r\none\n" : "\r\n\r\ntwo\n") != std::string::npos);
      }
    }
    signal_eventfd(stop.get());
    client.join();
    CHECK(ended == "stopped");
  }

  SUBCASE("WebSocket: port forward (v4 and SPDY tunnelled) to two ports; vpcrictl exec and port-forward --websocket") {
    wait_tcp_listening(d, ctr, 8080);
    wait_tcp_listening(d, ctr, 8081);
    // v4.channel.k8s.io: both ports in one session, each channel starting with its port.
    std::map<int, std::string> channels = websocket_get(port_forward_url(d, pod.id()), "8080,8081");
    CHECK(channels[0].rfind(port_le(8080) + "HTTP/1.", 0) == 0);
    CHECK(channels[0].find("\r\n\r\none\n") != std::string::npos);
    CHECK(channels[1] == port_le(8080));
    CHECK(channels[2].rfind(port_le(8081) + "HTTP/1.", 0) == 0);
    CHECK(channels[2].find("\r\n\r\ntwo\n") != std::string::npos);
    CHECK(channels[3] == port_le(8081));
    // Nothing listens on 8082 in the pod: the dial's error on the error channel.
    channels = websocket_get(port_forward_url(d, pod.id()), "8082");
    CHECK(channels[1].rfind(port_le(8082) + "error forwarding port 8082 to pod " + pod.id(), 0) == 0);

    // SPDY/3.1+portforward.k8s.io: an ordinary SPDY port forward inside the WebSocket.
    {
      streaming::SpdyTunnelClient tunnel(port_forward_url(d, pod.id()));
      uint16_t local1 = 0, local2 = 0;
      UniqueFd l1 = loopback_listener(local1), l2 = loopback_listener(local2);
      UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
      std::string ended;
      std::thread client([&] {
        ended = streaming::run_port_forward_client(tunnel.conn(), {{l1.get(), 8080}, {l2.get(), 8081}}, stop.get());
      });
      std::vector<UniqueFd> conns;
      for (uint16_t local : {local1, local2, local1, local2}) {
        conns.push_back(connect_loopback(local));
        vpcri::streaming::http::write_all(conns.back().get(), kGetIndex);
      }
      for (size_t i = 0; i < conns.size(); i++) {
        CHECK(read_to_eof(conns[i].get()).find(i % 2 == 0 ? "\r\n\r\none\n" : "\r\n\r\ntwo\n") != std::string::npos);
      }
      signal_eventfd(stop.get());
      client.join();
      CHECK(ended == "stopped");
    }

    // vpcrictl exec --websocket (v5.channel.k8s.io): output apart, the exit code; with -i stdin.
    RunResult r = run({binary("VPCRICTL"), "-r", d.socket(), "exec", "--websocket", ctr, "/bin/sh", "-c",
                       "echo out; echo err >&2; exit 4"});
    CHECK(r.exit_code == 4);
    CHECK(r.out == "out\n");
    CHECK(r.err == "err\n");
    r = run({"/bin/sh", "-c", "printf 'via ws\\n' | \"$0\" -r \"$1\" exec --websocket -i \"$2\" cat", binary("VPCRICTL"),
             d.socket(), ctr});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "via ws\n");

    // vpcrictl port-forward --websocket until SIGINT: a WebSocket session per local connection.
    TempDir tmp;
    const std::string pid_file = tmp.path() + "/pid";
    uint16_t local1 = free_port(), local2 = free_port();
    RunResult forward;
    std::thread ctl([&] {
      forward = run({"/bin/sh", "-c", "echo $$ > \"$0\"; exec \"$1\" -r \"$2\" port-forward --websocket \"$3\" \"$4\" \"$5\"",
                     pid_file, binary("VPCRICTL"), d.socket(), pod.id(), std::to_string(local1) + ":8080",
                     std::to_string(local2) + ":8081"});
    });
    std::string answer1 = get_through(local1), answer2 = get_through(local2), again = get_through(local1);
    pid_t pid = 0;
    std::ifstream(pid_file) >> pid;
    REQUIRE(pid > 0);
    ::kill(pid, SIGINT);
    ctl.join();
    CHECK(answer1.find("\r\n\r\none\n") != std::string::npos);
    CHECK(answer2.find("\r\n\r\ntwo\n") != std::string::npos);
    CHECK(again.find("\r\n\r\none\n") != std::string::npos);
    CHECK(forward.exit_code == 0);
    CHECK(forward.out.find("Forwarding from 127.0.0.1:" + std::to_string(local1) + " -> 8080") != std::string::npos);
  }
}

TEST_CASE("port forward to a host-network pod connects in vpcrid's own network namespace (a test namespace)") {
  // vpcrid runs in a namespace of the test's own, so the pod's "host" port is that namespace's.
  const std::string ns = "vpcri-stream-" + std::to_string(::getpid());
  REQUIRE(run({"/usr/sbin/ip", "netns", "add", ns}).exit_code == 0);
  struct RemoveNs {
    std::string name;
    ~RemoveNs() { run({"/usr/sbin/ip", "netns", "delete", name}); }
  } remove_ns{ns};
  const std::string ns_path = "/run/netns/" + ns;
  REQUIRE(run({"/usr/bin/nsenter", "--net=" + ns_path, "/usr/sbin/ip", "link", "set", "lo", "up"}).exit_code == 0);
  Daemon d;
  d.set_netns(ns_path);
  d.set_config(pods_config_yaml() + "network:\n  provider: none\n");
  d.start();
  v1::PodSandboxConfig config = pod_config("hostnet");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  Pod pod(d, config);
  std::string ctr = run_shell_container(d, pod, "web", "mkdir -p /w; echo host > /w/index.html; httpd -p 8090 -h /w; exec sleep 1000",
                                        v1::CONTAINER);
  wait_tcp_listening(d, ctr, 8090);
  const std::string spdy_url = port_forward_url(d, pod.id());
  const std::string websocket_url = port_forward_url(d, pod.id());

  uint16_t local = 0;
  UniqueFd listener = loopback_listener(local);  // in the test's namespace
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  std::string ended, error, websocket_data;
  // The streaming server listens on the loopback of vpcrid's namespace: the client's thread
  // dials from there (netns membership is per thread).
  std::thread client([&] {
    try {
      UniqueFd target(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!target || ::setns(target.get(), CLONE_NEWNET) != 0) throw std::runtime_error("setns failed");
      websocket_data = websocket_get(websocket_url, "8090")[0];  // the v4 WebSocket protocol too
      streaming::Upgraded u = streaming::upgrade(spdy_url, {streaming::kPortForwardProtocol});
      ended = streaming::run_port_forward_client(*u.conn, {{listener.get(), 8090}}, stop.get());
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  std::string answer;
  {
    UniqueFd c = connect_to("http://127.0.0.1:" + std::to_string(local) + "/");
    vpcri::streaming::http::write_all(c.get(), "GET /index.html HTTP/1.0\r\n\r\n");
    answer = read_to_eof(c.get());
  }
  signal_eventfd(stop.get());
  client.join();
  CHECK(error.empty());
  CHECK(ended == "stopped");
  CHECK(answer.find("\r\n\r\nhost\n") != std::string::npos);
  CHECK(websocket_data.rfind(port_le(8090) + "HTTP/1.", 0) == 0);
  CHECK(websocket_data.find("\r\n\r\nhost\n") != std::string::npos);
  // The port is the daemon namespace's, not the test's: nothing listens on 8090 here.
  CHECK(run({"/bin/sh", "-c", "/usr/bin/ss -ltn | grep -c ':8090 ' || true"}).out == "0\n");
}

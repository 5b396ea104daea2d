// The streaming server end to end on loopback with our client, without containers: the Request's
// closures start a plain /bin/sh child or dial a loopback listener of the test.
#include "cri/streaming/server.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "cri/streaming/client.h"
#include "cri/streaming/http.h"
#include "cri/streaming/port_forward.h"
#include "cri/streaming/remote_command.h"
#include "cri/streaming/test_support.h"
#include "cri/streaming/websocket.h"
#include "cri/streaming/websocket_tunnel.h"

using namespace vpcri::streaming;
using namespace vpcri::streaming::test;
using vpcri::UniqueFd;
using namespace std::chrono_literals;

namespace {

// /bin/sh -c SCRIPT with pipes for stdio.
class ShellProcess final : public Process {
 public:
  explicit ShellProcess(const std::string& script) {
    int in[2], out[2], err[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    in_.reset(in[1]);
    out_.reset(out[0]);
    err_.reset(err[0]);
    pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  }
  ~ShellProcess() override {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int stdin_fd() const override { return in_.get(); }
  int stdout_fd() const override { return out_.get(); }
  int stderr_fd() const override { return err_.get(); }
  void close_stdin() override { in_.reset(); }
  int exit_fd() const override { return pidfd_.get(); }
  int wait() override {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void resize(WindowSize) override {}

 private:
  pid_t pid_;
  bool reaped_ = false;
  UniqueFd in_, out_, err_, pidfd_;
};

std::shared_ptr<Request> shell(const std::string& script) {
  auto r = std::make_shared<Request>();
  r->kind = Kind::exec;
  r->target = "test";
  r->io = {true, true, true, false};
  r->start = [script](const ExecOptions&, std::optional<WindowSize>) { return std::make_unique<ShellProcess>(script); };
  return r;
}

// A tty exec of `exit 0` whose start reports the window size it was given.
std::shared_ptr<Request> tty_shell(std::promise<std::optional<WindowSize>>& started_with) {
  auto r = shell("exit 0");
  r->io = {false, true, false, true};
  r->start = [&started_with](const ExecOptions&, std::optional<WindowSize> size) {
    started_with.set_value(size);
    return std::make_unique<ShellProcess>("exit 0");
  };
  return r;
}

}  // namespace

TEST_CASE("exec with a tty over SPDY: the process starts with the size sent just after the streams") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  std::promise<std::optional<WindowSize>> started_with;
  Upgraded u = upgrade(server.url(Kind::exec, tokens.insert(tty_shell(started_with))), {"v4.channel.k8s.io"});
  u.conn->open_stream({{"streamtype", "error"}});
  u.conn->open_stream({{"streamtype", "stdout"}});
  uint32_t resize_id = u.conn->open_stream({{"streamtype", "resize"}});
  std::this_thread::sleep_for(200ms);  // as a client whose size message leaves a moment after its streams
  u.conn->data(resize_id, size_json(WindowSize{123, 45}));
  auto started = started_with.get_future();
  REQUIRE(started.wait_for(10s) == std::future_status::ready);
  std::optional<WindowSize> size = started.get();
  REQUIRE(size.has_value());
  CHECK(size->width == 123);
  CHECK(size->height == 45);
}

TEST_CASE("exec over SPDY: stdin, stdout, stderr and the v4 exit status") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  std::string url = server.url(Kind::exec, tokens.insert(shell("cat; echo e >&2; exit 5")));
  CHECK(url.rfind("http://127.0.0.1:" + std::to_string(server.port()) + "/exec/", 0) == 0);
  Upgraded u = upgrade(url, {"v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io"});
  CHECK(u.protocol == "v4.channel.k8s.io");
  int in[2];
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  std::string big(300000, 'x');  // more than one frame, more than a pipe holds
  std::thread writer([&] {
    std::string_view left = big;
    while (!left.empty()) {
      ssize_t n = ::write(in[1], left.data(), left.size());
      if (n <= 0) break;
      left.remove_prefix(static_cast<size_t>(n));
    }
    ::close(in[1]);
  });
  UniqueFd out(::memfd_create("out", MFD_CLOEXEC)), err(::memfd_create("err", MFD_CLOEXEC));
  ExecClientIo io;
  io.in = in[0];
  io.out = out.get();
  io.err = err.get();
  ExecOutcome r = run_exec_client(*u.conn, u.protocol, io);
  writer.join();
  ::close(in[0]);
  CHECK(contents(out.get()) == big);
  CHECK(contents(err.get()) == "e\n");
  CHECK(r.exit_code == 5);
  CHECK(r.status ==
        R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 5","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"5"}]}})");
}

TEST_CASE("exit_code_of_status reads what kubectl reads") {
  CHECK(exit_code_of_status(R"({"metadata":{},"status":"Success"})") == 0);
  CHECK(exit_code_of_status(exit_status_json(42)) == 42);
  CHECK(exit_code_of_status(internal_error_json("boom")) == 1);
  CHECK(exit_code_of_status("not json") == 1);
}

TEST_CASE("HTTP errors: unknown routes and tokens 404, used tokens 404, no common protocol 403, no upgrade 400") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  std::string token = tokens.insert(shell("true"));
  std::string url = server.url(Kind::exec, token);
  CHECK_THROWS_WITH_AS(upgrade(server.url(Kind::attach, token), remote_command_protocols()), doctest::Contains("404"),
                       vpcri::Error);  // wrong kind: consumed all the same
  CHECK_THROWS_WITH_AS(upgrade(url, remote_command_protocols()), doctest::Contains("404"), vpcri::Error);
  std::string t2 = tokens.insert(shell("true"));
  CHECK_THROWS_WITH_AS(upgrade(server.url(Kind::exec, t2), {"v9.channel.k8s.io"}), doctest::Contains("403"), vpcri::Error);

  UniqueFd raw = connect_loopback(server.port());
  std::string t3 = tokens.insert(shell("true"));
  http::write_all(raw.get(), "GET /exec/" + t3 + " HTTP/1.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n");
  std::string answer = read_to_eof(raw.get());
  CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(answer.find("missing upgrade headers") != std::string::npos);

  UniqueFd ws = connect_loopback(server.port());
  http::write_all(ws.get(), "GET /nothing HTTP/1.1\r\n\r\n");
  CHECK(read_to_eof(ws.get()).rfind("HTTP/1.1 404", 0) == 0);
}

namespace {

// An echo server that prefixes its tag, one connection after another until destroyed.
struct EchoServer {
  uint16_t port = 0;
  UniqueFd listener = loopback_listener(port);
  std::atomic<bool> done{false};
  std::thread thread;
  explicit EchoServer(std::string tag) {
    thread = std::thread([this, tag] {
      while (!done) {
        pollfd p{listener.get(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        UniqueFd c(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        http::write_all(c.get(), tag + read_to_eof(c.get()));
      }
    });
  }
  ~EchoServer() {
    done = true;
    thread.join();
  }
};

// A port forward whose dial reaches the test's loopback listeners; port 7 is refused.
std::shared_ptr<Request> forward_to_loopback() {
  auto req = std::make_shared<Request>();
  req->kind = Kind::port_forward;
  req->target = "pod";
  req->dial = [](uint16_t port) {
    if (port == 7) throw vpcri::Error(vpcri::Errc::unavailable, "connection refused");
    return connect_loopback(port);
  };
  return req;
}

}  // namespace

TEST_CASE("port forward over SPDY: many connections to two ports, data both ways, EOF passed on") {
  EchoServer echo1("one:"), echo2("two:");
  uint16_t p1 = echo1.port, p2 = echo2.port;

  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  Upgraded u = upgrade(server.url(Kind::port_forward, tokens.insert(forward_to_loopback())), {kPortForwardProtocol});
  uint16_t l1 = 0, l2 = 0;
  UniqueFd local1 = loopback_listener(l1), local2 = loopback_listener(l2);
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  std::string ended;
  std::thread client([&] { ended = run_port_forward_client(*u.conn, {{local1.get(), p1}, {local2.get(), p2}}, stop.get()); });

  std::vector<UniqueFd> conns;
  for (int i = 0; i < 6; i++) {
    conns.push_back(connect_loopback(i % 2 ? l2 : l1));
    http::write_all(conns.back().get(), "hello " + std::to_string(i));
    ::shutdown(conns.back().get(), SHUT_WR);  // the echo server answers at EOF
  }
  for (int i = 0; i < 6; i++) {
    CHECK(read_to_eof(conns[i].get()) == std::string(i % 2 ? "two:" : "one:") + "hello " + std::to_string(i));
  }
  signal_eventfd(stop.get());
  client.join();
  CHECK(ended == "stopped");
}

TEST_CASE("port forward: the pod's EOF reaches the client at once; the client's later bytes still reach the pod") {
  // The pod answers, half-closes, then reads on. The client reads the answer to EOF (as HTTP
  // clients do, without half-closing first), then sends more and half-closes. The pod's FIN must
  // come while the forwarded connection still carries the client's side: a FIN sent only when
  // the connection is dropped (after a wait for the client) would lose "second".
  uint16_t pod_port = 0;
  UniqueFd pod_listener = loopback_listener(pod_port);
  std::string pod_got_after_eof;
  std::thread pod([&] {
    UniqueFd c(::accept4(pod_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return;
    char buf[16];
    if (::read(c.get(), buf, 5) != 5) return;  // "first"
    http::write_all(c.get(), "reply");
    ::shutdown(c.get(), SHUT_WR);
    pod_got_after_eof = read_to_eof(c.get());
  });

  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  Upgraded u = upgrade(server.url(Kind::port_forward, tokens.insert(forward_to_loopback())), {kPortForwardProtocol});
  uint16_t l = 0;
  UniqueFd local = loopback_listener(l);
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  std::string ended;
  std::thread client([&] { ended = run_port_forward_client(*u.conn, {{local.get(), pod_port}}, stop.get()); });

  UniqueFd c = connect_loopback(l);
  http::write_all(c.get(), "first");
  CHECK(read_to_eof(c.get()) == "reply");
  http::write_all(c.get(), "second");
  ::shutdown(c.get(), SHUT_WR);
  pod.join();
  CHECK(pod_got_after_eof == "second");
  signal_eventfd(stop.get());
  client.join();
  CHECK(ended == "stopped");
}

TEST_CASE("port forward: a refused dial is reported on the error stream") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  auto req = std::make_shared<Request>();
  req->kind = Kind::port_forward;
  req->target = "pod";
  req->dial = [](uint16_t) -> UniqueFd { throw vpcri::Error(vpcri::Errc::unavailable, "connection refused"); };
  Upgraded u = upgrade(server.url(Kind::port_forward, tokens.insert(req)), {kPortForwardProtocol});
  uint16_t l = 0;
  UniqueFd local = loopback_listener(l);
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  std::string ended;
  std::thread client([&] { ended = run_port_forward_client(*u.conn, {{local.get(), 9}}, stop.get()); });
  UniqueFd c = connect_loopback(l);
  client.join();
  CHECK(ended.find("error forwarding port 9 to pod pod") != std::string::npos);
  CHECK(ended.find("connection refused") != std::string::npos);
}

namespace {

// A raw WebSocket client for the tests: the handshake by hand, then masked frames.
struct WsClient {
  UniqueFd fd;
  std::string response;  // the server's HTTP answer
  std::string rest;
  websocket::Parser parser{false, 1 << 22};

  WsClient(uint16_t port, const std::string& path, const std::string& protocols) : fd(connect_loopback(port)) {
    std::string head = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    if (!protocols.empty()) head += "Sec-WebSocket-Protocol: " + protocols + "\r\n";
    http::write_all(fd.get(), head + "\r\n");
    response = http::read_head(fd.get(), 5s, rest);
    parser.feed(rest);
  }
  void send(websocket::Opcode op, const std::string& payload) {
    http::write_all(fd.get(), websocket::frame(op, payload, true, 0x12345678));
  }
  void send_raw(const std::string& bytes) { http::write_all(fd.get(), bytes); }
  // Every message until the server's close frame (or EOF); the close frame last.
  std::vector<websocket::Message> read_all() {
    std::vector<websocket::Message> out;
    for (;;) {
      while (auto m = parser.next()) {
        out.push_back(*m);
        if (m->opcode == websocket::Opcode::close) return out;
      }
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) return out;
      char buf[65536];
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n <= 0) return out;
      parser.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
  }
};

std::string channel_text(const std::vector<websocket::Message>& ms, char channel, bool base64 = false) {
  std::string out;
  for (const auto& m : ms) {
    if (m.opcode == websocket::Opcode::close || m.payload.empty()) continue;
    if (m.payload[0] == (base64 ? static_cast<char>('0' + channel) : channel)) out += m.payload.substr(1);
  }
  return out;
}

}  // namespace

TEST_CASE("exec over WebSocket v5: the accept key, stdin closed with [255, 0], output and status on channels") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  std::string token = tokens.insert(shell("cat; echo e >&2; exit 6"));
  WsClient c(server.port(), "/exec/" + token, "v5.channel.k8s.io, v4.channel.k8s.io");
  REQUIRE(c.response.rfind("HTTP/1.1 101", 0) == 0);
  CHECK(c.response.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
  CHECK(c.response.find("Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n") != std::string::npos);
  // One stdin message split in two fragments, a ping between, then the v5 close of stdin.
  c.send_raw(websocket::frame(websocket::Opcode::binary, std::string("\0hel", 4), false, 7) +
             websocket::frame(websocket::Opcode::ping, "pp", true, 8) +
             websocket::frame(websocket::Opcode::continuation, "lo\n", true, 9));
  c.send(websocket::Opcode::binary, std::string("\xff\x00", 2));
  auto ms = c.read_all();
  REQUIRE_FALSE(ms.empty());
  CHECK(ms.back().opcode == websocket::Opcode::close);
  bool ponged = false;
  for (const auto& m : ms) ponged = ponged || (m.opcode == websocket::Opcode::pong && m.payload == "pp");
  CHECK(ponged);
  CHECK(channel_text(ms, 1) == "hello\n");
  CHECK(channel_text(ms, 2) == "e\n");
  CHECK(channel_text(ms, 3) == exit_status_json(6));
}

TEST_CASE("exec with a tty over WebSocket: the process starts with the size sent just after the upgrade") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  std::promise<std::optional<WindowSize>> started_with;
  WsClient c(server.port(), "/exec/" + tokens.insert(tty_shell(started_with)), "v5.channel.k8s.io");
  REQUIRE(c.response.rfind("HTTP/1.1 101", 0) == 0);
  std::this_thread::sleep_for(200ms);
  c.send(websocket::Opcode::binary, "\x04" + size_json(WindowSize{80, 24}));
  auto started = started_with.get_future();
  REQUIRE(started.wait_for(10s) == std::future_status::ready);
  std::optional<WindowSize> size = started.get();
  REQUIRE(size.has_value());
  CHECK(size->width == 80);
  CHECK(size->height == 24);
  auto ms = c.read_all();
  CHECK(channel_text(ms, 3) == exit_status_json(0));
}

TEST_CASE("exec over WebSocket base64: text messages with an ASCII channel") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  WsClient c(server.port(), "/exec/" + tokens.insert(shell("head -c 5; exit 0")), "base64.channel.k8s.io");
  REQUIRE(c.response.rfind("HTTP/1.1 101", 0) == 0);
  c.send(websocket::Opcode::text, "0aGVsbG8=");  // "hello"
  auto ms = c.read_all();
  CHECK(channel_text(ms, 1, true) == "aGVsbG8=");
  CHECK(channel_text(ms, 3, true).empty());  // channel.k8s.io semantics: nothing on success
}

TEST_CASE("WebSocket: bad handshakes are refused, an unmasked frame closes with 1002, a huge one with 1009") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  WsClient none(server.port(), "/exec/" + tokens.insert(shell("exit 0")), "v9.channel.k8s.io");
  CHECK(none.response.rfind("HTTP/1.1 403", 0) == 0);

  WsClient unmasked(server.port(), "/exec/" + tokens.insert(shell("exec sleep 100")), "v4.channel.k8s.io");
  REQUIRE(unmasked.response.rfind("HTTP/1.1 101", 0) == 0);
  unmasked.send_raw(websocket::frame(websocket::Opcode::binary, std::string("\0x", 2)));
  auto ms = unmasked.read_all();
  REQUIRE_FALSE(ms.empty());
  CHECK(ms.back().opcode == websocket::Opcode::close);
  CHECK(ms.back().payload.substr(0, 2) == websocket::close_payload(websocket::kCloseProtocolError).substr(0, 2));

  WsClient huge(server.port(), "/exec/" + tokens.insert(shell("exec sleep 100")), "v4.channel.k8s.io");
  REQUIRE(huge.response.rfind("HTTP/1.1 101", 0) == 0);
  huge.send_raw(std::string("\x82\xff\x00\x00\x00\x00\x10\x00\x00\x00", 10));  // declares 256 MiB
  ms = huge.read_all();
  REQUIRE_FALSE(ms.empty());
  CHECK(ms.back().payload.substr(0, 2) == websocket::close_payload(websocket::kCloseTooBig).substr(0, 2));
}

namespace {

// A backend that answers each connection's first line with `tag` + the line, then closes.
struct LineServer {
  uint16_t port = 0;
  UniqueFd listener = loopback_listener(port);
  std::thread thread;
  explicit LineServer(std::string tag, int connections = 1) {
    thread = std::thread([this, tag, connections] {
      for (int i = 0; i < connections; i++) {
        pollfd p{listener.get(), POLLIN, 0};
        if (::poll(&p, 1, 10000) <= 0) return;  // a failed test does not hang here
        UniqueFd c(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        std::string line;
        char ch;
        while (::read(c.get(), &ch, 1) == 1 && (line += ch, ch != '\n')) {}
        http::write_all(c.get(), tag + line);
      }
    });
  }
  ~LineServer() { thread.join(); }
};

std::string port_le(uint16_t port) { return {static_cast<char>(port & 0xff), static_cast<char>(port >> 8)}; }

}  // namespace

TEST_CASE("port forward over WebSocket v4: ports from the query, 2 channels each with the port first, a refused dial") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  LineServer one("one:"), two("two:");
  std::string query = "?port=" + std::to_string(one.port) + "&other=x&port=" + std::to_string(two.port) + "%2C7";
  WsClient c(server.port(), "/portforward/" + tokens.insert(forward_to_loopback()) + query, "v9.x, v4.channel.k8s.io");
  REQUIRE_MESSAGE(c.response.rfind("HTTP/1.1 101", 0) == 0, std::string(c.response + c.rest + read_to_eof(c.fd.get())));
  CHECK(c.response.find("Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n") != std::string::npos);
  c.send(websocket::Opcode::binary, std::string("\0hel", 4));
  c.send(websocket::Opcode::binary, std::string("\0lo\n", 4));
  c.send(websocket::Opcode::binary, std::string("\2world\n", 7));
  c.send(websocket::Opcode::binary, std::string("\1ignored", 8));  // the error channel is the server's
  auto ms = c.read_all();  // the session ends once every port's connection has
  REQUIRE_FALSE(ms.empty());
  CHECK(ms.back().opcode == websocket::Opcode::close);
  CHECK(channel_text(ms, 0) == port_le(one.port) + "one:hello\n");
  CHECK(channel_text(ms, 1) == port_le(one.port));
  CHECK(channel_text(ms, 2) == port_le(two.port) + "two:world\n");
  CHECK(channel_text(ms, 3) == port_le(two.port));
  CHECK(channel_text(ms, 4) == port_le(7));
  CHECK(channel_text(ms, 5) == port_le(7) + "error forwarding port 7 to pod pod, uid : connection refused");
}

TEST_CASE("port forward over WebSocket v4.base64, and our client of the v4 protocol") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  LineServer one("one:", 2);
  WsClient c(server.port(), "/portforward/" + tokens.insert(forward_to_loopback()) + "?port=" + std::to_string(one.port),
             "v4.base64.channel.k8s.io");
  REQUIRE(c.response.find("Sec-WebSocket-Protocol: v4.base64.channel.k8s.io\r\n") != std::string::npos);
  c.send(websocket::Opcode::text, "0" + websocket::base64_encode("hi\n"));
  auto ms = c.read_all();
  CHECK(channel_text(ms, 0, true) == websocket::base64_encode(port_le(one.port)) + websocket::base64_encode("one:hi\n"));

  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd local(sv[0]), app(sv[1]);
  http::write_all(app.get(), "again\n");
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  std::string error = run_websocket_port_forward_client(server.url(Kind::port_forward, tokens.insert(forward_to_loopback())),
                                                        local.get(), one.port, stop.get());
  CHECK(error.empty());
  CHECK(read_to_eof(app.get()) == "one:again\n");
  error = run_websocket_port_forward_client(server.url(Kind::port_forward, tokens.insert(forward_to_loopback())),
                                            local.get(), 7, stop.get());
  CHECK(error == "error forwarding port 7 to pod pod, uid : connection refused");
}

TEST_CASE("port forward over WebSocket: a missing or bad port is 400, before any upgrade") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  for (const std::string query : {"", "?", "?port=", "?port=0", "?port=65536", "?port=http", "?port=80,", "?port=8%2"}) {
    WsClient c(server.port(), "/portforward/" + tokens.insert(forward_to_loopback()) + query, "v4.channel.k8s.io");
    CHECK_MESSAGE(c.response.rfind("HTTP/1.1 400", 0) == 0, query);
  }
  WsClient none(server.port(), "/portforward/" + tokens.insert(forward_to_loopback()) + "?port=80", "channel.k8s.io");
  CHECK(none.response.rfind("HTTP/1.1 403", 0) == 0);  // as the kubelet library: only "", v4 and the SPDY tunnel
}

TEST_CASE("port forward over SPDY tunnelled in WebSocket: many connections to two ports, EOF passed on") {
  EchoServer echo1("one:"), echo2("two:");
  uint16_t p1 = echo1.port, p2 = echo2.port;
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  {
    SpdyTunnelClient tunnel(server.url(Kind::port_forward, tokens.insert(forward_to_loopback())));
    uint16_t l1 = 0, l2 = 0;
    UniqueFd local1 = loopback_listener(l1), local2 = loopback_listener(l2);
    UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
    std::string ended;
    std::thread client([&] { ended = run_port_forward_client(tunnel.conn(), {{local1.get(), p1}, {local2.get(), p2}}, stop.get()); });
    std::vector<UniqueFd> conns;
    for (int i = 0; i < 6; i++) {
      conns.push_back(connect_loopback(i % 2 ? l2 : l1));
      http::write_all(conns.back().get(), std::string(i == 0 ? 200000 : 1, 'x') + std::to_string(i));
      ::shutdown(conns.back().get(), SHUT_WR);
    }
    for (int i = 0; i < 6; i++) {
      CHECK(read_to_eof(conns[i].get()) ==
            std::string(i % 2 ? "two:" : "one:") + std::string(i == 0 ? 200000 : 1, 'x') + std::to_string(i));
    }
    signal_eventfd(stop.get());
    client.join();
    CHECK(ended == "stopped");
  }
}

TEST_CASE("WebSocket port forward: garbage closes the session, the server serves on") {
  TokenCache tokens(60s, 100);
  Server server(ServerConfig{}, tokens);
  auto close_code = [](const std::vector<websocket::Message>& ms) {
    REQUIRE_FALSE(ms.empty());
    REQUIRE(ms.back().opcode == websocket::Opcode::close);
    return ms.back().payload.substr(0, 2);
  };
  const std::string protocol_error = websocket::close_payload(websocket::kCloseProtocolError).substr(0, 2);
  uint16_t idle_port = 0;
  UniqueFd idle = loopback_listener(idle_port);  // accepts (the backlog) and never answers
  std::string path = "/portforward/";
  std::string query = "?port=" + std::to_string(idle_port);

  WsClient unmasked(server.port(), path + tokens.insert(forward_to_loopback()) + query, "v4.channel.k8s.io");
  unmasked.send_raw(websocket::frame(websocket::Opcode::binary, std::string("\0x", 2)));
  CHECK(close_code(unmasked.read_all()) == protocol_error);

  WsClient base64(server.port(), path + tokens.insert(forward_to_loopback()) + query, "v4.base64.channel.k8s.io");
  base64.send(websocket::Opcode::text, "0not base64!");
  CHECK(close_code(base64.read_all()) == protocol_error);

  WsClient text(server.port(), path + tokens.insert(forward_to_loopback()), kSpdyTunnelProtocol);
  REQUIRE(text.response.find("Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n") != std::string::npos);
  text.send(websocket::Opcode::text, "hello");
  CHECK(close_code(text.read_all()) == protocol_error);

  WsClient spdy_garbage(server.port(), path + tokens.insert(forward_to_loopback()), kSpdyTunnelProtocol);
  spdy_garbage.send(websocket::Opcode::binary, std::string("\x80\x03\x00\x0a\x00\x00\x00\x00", 8));  // unknown type
  auto ms = spdy_garbage.read_all();  // the SPDY session ends (GOAWAY), then the WebSocket closes
  CHECK(close_code(ms) == websocket::close_payload(websocket::kCloseNormal).substr(0, 2));

  // Still serving.
  LineServer one("one:");
  WsClient ok(server.port(), path + tokens.insert(forward_to_loopback()) + "?port=" + std::to_string(one.port), "");
  REQUIRE(ok.response.rfind("HTTP/1.1 101", 0) == 0);
  CHECK(ok.response.find("Sec-WebSocket-Protocol") == std::string::npos);
  ok.send(websocket::Opcode::binary, std::string("\0ping\n", 6));
  CHECK(channel_text(ok.read_all(), 0) == port_le(one.port) + "one:ping\n");
}

// vpcrictl's streaming commands: `exec -i/-t` (Exec), `attach` and `port-forward` (PortForward), speaking
// SPDY/3.1 to the URL the RPC returns through cri/streaming/client.h, as crictl does, or with
// --websocket the WebSocket protocols (v5.channel.k8s.io; v4.channel.k8s.io port forwarding).
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "common/error.h"
#include "cri/ctl/commands.h"
#include "cri/ctl/flags.h"
#include "cri/streaming/client.h"
#include "cri/streaming/port_forward.h"
#include "cri/streaming/remote_command.h"
#include "cri/streaming/tls.h"

namespace vpcri::ctl {
namespace {

namespace v1 = runtime::v1;

std::optional<streaming::WindowSize> terminal_size() {
  winsize ws{};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) return std::nullopt;
  return streaming::WindowSize{ws.ws_col, ws.ws_row};
}

// The local terminal in raw mode for the session's length, restored however it ends.
class RawTerminal {
 public:
  RawTerminal() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

UniqueFd listen_loopback(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd.get(), 64) != 0) {
    throw_errno("listen on 127.0.0.1:" + std::to_string(port));
  }
  return fd;
}

uint16_t parse_port(const Flags& flags, const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos || std::stoi(s) < 1 ||
      std::stoi(s) > 65535) {
    flags.usage_error("not a port: \"" + s + "\"");
  }
  return static_cast<uint16_t>(std::stoi(s));
}

}  // namespace

void block_signals_read_by(const std::string& command) {
  sigset_t set;
  ::sigemptyset(&set);
  // port-forward takes SIGINT/SIGTERM through a handler (stop_signals), which any thread may run.
  if (command == "exec" || command == "attach") {
    ::sigaddset(&set, SIGWINCH);  // ignored by default: blocking it changes nothing for `exec` without -t
  }
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

namespace {

// Runs an exec or attach session at `url` on our stdio (the terminal raw with a tty); returns its
// exit code.
int run_remote_session(const std::string& url, bool in, bool tty, const char* command, bool websocket = false) {
  // SIGWINCH through a signalfd: the session loop sends each new size on the resize stream.
  sigset_t winch;
  ::sigemptyset(&winch);
  ::sigaddset(&winch, SIGWINCH);
  ::sigprocmask(SIG_BLOCK, &winch, nullptr);
  UniqueFd resize(tty ? ::signalfd(-1, &winch, SFD_CLOEXEC) : -1);
  streaming::ExecClientIo io;
  io.in = in ? STDIN_FILENO : -1;
  io.out = STDOUT_FILENO;
  io.err = tty ? -1 : STDERR_FILENO;
  io.tty = tty;
  io.size = tty ? terminal_size() : std::nullopt;
  io.resize_fd = resize.get();
  io.current_size = terminal_size;
  std::optional<RawTerminal> raw;
  if (tty && in && ::isatty(STDIN_FILENO)) raw.emplace();
  streaming::ExecOutcome outcome;
  if (websocket) {
    outcome = streaming::run_websocket_exec_client(url, io);
  } else {
    streaming::Upgraded u = streaming::upgrade(url, streaming::remote_command_protocols());
    outcome = streaming::run_exec_client(*u.conn, u.protocol, io);
  }
  raw.reset();
  if (outcome.exit_code != 0 && outcome.status.find("NonZeroExitCode") == std::string::npos) {
    std::cerr << "vpcrictl " << command << ": " << outcome.status << "\n";
  }
  streaming::tls::wait_for_client_relays(std::chrono::seconds(3));  // the session is closed by now
  return outcome.exit_code;
}

}  // namespace

int exec_streaming(Client& client, const std::string& container, const std::vector<std::string>& cmd, bool in,
                   bool tty, bool websocket) {
  v1::ExecRequest req;
  req.set_container_id(container);
  req.mutable_cmd()->Add(cmd.begin(), cmd.end());
  req.set_stdin(in);
  req.set_stdout(true);
  req.set_stderr(!tty);
  req.set_tty(tty);
  v1::ExecResponse resp;
  client.check(client.runtime().Exec(client.context().get(), req, &resp), "Exec");
  return run_remote_session(resp.url(), in, tty, "exec", websocket);
}

int cmd_attach(Client& client, const Options&, const Args& args) {
  bool in = false, tty = false, websocket = false;
  Flags flags("attach", "attach [-i] [-t] [--websocket] CONTAINER_ID",
              "Attach to the main process of a running container: its output (stdout and stderr, or its\n"
              "terminal) until it ends or you interrupt, and with -i our stdin to its stdin (the container\n"
              "needs stdin: true; with stdin_once, ending our stdin closes its). -t: its terminal (tty: true),\n"
              "the local one in raw mode.");
  flags.add("-i, --stdin", "pass our stdin on", &in);
  flags.add("-t, --tty", "the container has a terminal: take it over", &tty);
  flags.add("--websocket", "speak WebSocket (v5.channel.k8s.io) instead of SPDY/3.1", &websocket);
  auto pos = flags.parse(args);
  if (pos.size() != 1) flags.usage_error("expected CONTAINER_ID");
  v1::AttachRequest req;
  req.set_container_id(pos[0]);
  req.set_stdin(in);
  req.set_stdout(true);
  req.set_stderr(!tty);
  req.set_tty(tty);
  v1::AttachResponse resp;
  client.check(client.runtime().Attach(client.context().get(), req, &resp), "Attach");
  return run_remote_session(resp.url(), in, tty, "attach", websocket);
}

namespace {

int stop_event_fd = -1;

// SIGINT/SIGTERM as a readable fd: they end the forwarding cleanly. A handler rather than a
// signalfd: gRPC's threads, started before we could block the signals, would take them.
UniqueFd stop_signals() {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) throw_errno("eventfd");
  stop_event_fd = fd.get();
  struct sigaction sa {};
  sa.sa_handler = [](int) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_event_fd, &one, sizeof one);  // async-signal-safe
  };
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  return fd;
}

// The v4.channel.k8s.io port forward fixes its ports per connection, and a URL's token serves
// once: each local connection gets a PortForward RPC and a WebSocket of its own, on a thread.
int port_forward_websocket(Client& client, const std::string& pod, const std::vector<std::pair<int, uint16_t>>& pairs,
                           int stop_fd) {
  std::vector<std::thread> forwards;
  for (;;) {
    std::vector<pollfd> p = {{stop_fd, POLLIN, 0}};
    for (auto [fd, port] : pairs) p.push_back({fd, POLLIN, 0});
    if (::poll(p.data(), p.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll the local listeners");
    }
    if (p[0].revents != 0) break;
    for (size_t i = 0; i < pairs.size(); i++) {
      if (p[i + 1].revents == 0) continue;
      UniqueFd local(::accept4(pairs[i].first, nullptr, nullptr, SOCK_CLOEXEC));
      if (!local) continue;
      v1::PortForwardRequest req;
      req.set_pod_sandbox_id(pod);
      req.add_port(pairs[i].second);
      v1::PortForwardResponse resp;
      client.check(client.runtime().PortForward(client.context().get(), req, &resp), "PortForward");
      forwards.emplace_back([url = resp.url(), local = std::move(local), port = pairs[i].second, stop_fd] {
        try {
          std::string error = streaming::run_websocket_port_forward_client(url, local.get(), port, stop_fd);
          if (!error.empty() && error != "stopped") std::cerr << "vpcrictl port-forward: " << error << "\n";
        } catch (const std::exception& e) {
          std::cerr << "vpcrictl port-forward: " << e.what() << "\n";
        }
      });
    }
  }
  for (auto& t : forwards) t.join();  // each sees the stop signal too
  return 0;
}

}  // namespace

int cmd_port_forward(Client& client, const Options&, const Args& args) {
  bool websocket = false;
  Flags flags("port-forward", "port-forward [--websocket] POD_ID [LOCAL_PORT:]REMOTE_PORT...",
              "Forward local ports on 127.0.0.1 to ports of a pod (inside its network namespace) until\n"
              "interrupted.");
  flags.add("--websocket", "speak WebSocket (v4.channel.k8s.io, one session per connection) instead of SPDY/3.1",
            &websocket);
  auto pos = flags.parse(args);
  if (pos.size() < 2) flags.usage_error("expected POD_ID and at least one port");
  std::vector<UniqueFd> listeners;
  std::vector<std::pair<int, uint16_t>> pairs;
  for (size_t i = 1; i < pos.size(); i++) {
    size_t colon = pos[i].find(':');
    uint16_t remote = parse_port(flags, colon == std::string::npos ? pos[i] : pos[i].substr(colon + 1));
    uint16_t local = colon == std::string::npos ? remote : parse_port(flags, pos[i].substr(0, colon));
    listeners.push_back(listen_loopback(local));
    pairs.emplace_back(listeners.back().get(), remote);
    std::cout << "Forwarding from 127.0.0.1:" << local << " -> " << remote << std::endl;
  }
  UniqueFd stop = stop_signals();
  if (websocket) return port_forward_websocket(client, pos[0], pairs, stop.get());
  v1::PortForwardRequest req;
  req.set_pod_sandbox_id(pos[0]);
  v1::PortForwardResponse resp;
  client.check(client.runtime().PortForward(client.context().get(), req, &resp), "PortForward");
  streaming::Upgraded u = streaming::upgrade(resp.url(), {streaming::kPortForwardProtocol});
  std::string why = streaming::run_port_forward_client(*u.conn, pairs, stop.get());
  if (why == "stopped") return 0;
  std::cerr << "vpcrictl port-forward: " << why << "\n";
  return 1;
}

}  // namespace vpcri::ctl

// The attach socket of vpcri-monitor (attach_protocol.h) end to end: real monitors running a
// busybox shell with a pty or a stdin pipe, attached to through runtime::AttachConnection.
#include "runtime/monitor/attach.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/stat.h>

#include <set>

#include "runtime/monitor/monitor_test_support.h"

using namespace vpcri::runtime;
using namespace vpcri::runtime::test;

namespace {

struct Output {
  std::string out, err;
  bool eof = false;
};

// Reads from `conn` until `done` says so, EOF, or 10 s.
Output read_until(AttachConnection& conn, const std::function<bool(const Output&)>& done) {
  Output o;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done(o) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{conn.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[AttachConnection::kMaxOutput];
    bool is_stderr = false;
    ssize_t n = conn.read_output(buf, sizeof buf, is_stderr);
    if (n == 0) {
      o.eof = true;
      break;
    }
    if (n > 0) (is_stderr ? o.err : o.out).append(buf, static_cast<size_t>(n));
  }
  return o;
}

Output read_until_text(AttachConnection& conn, const std::string& text) {
  return read_until(conn, [&](const Output& o) { return o.out.find(text) != std::string::npos; });
}

void send(AttachConnection& conn, const std::string& data) {
  REQUIRE(conn.write_stdin(data.data(), data.size()) == static_cast<ssize_t>(data.size()));
}

MonitorSpec shell_spec(const TempDir& dir, StdioSpec stdio) {
  MonitorSpec spec = spec_in(dir, {kBusybox, "sh"});
  spec.stdio = stdio;
  return spec;
}

}  // namespace

TEST_CASE("runtime-monitor-attach: with a tty the shell runs on a pty the monitor holds; resize and output reach the attacher") {
  TempDir dir;
  Reaper reaper;
  MonitorSpec spec = shell_spec(dir, {true, true, false});
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);

  struct stat st {};
  REQUIRE(::lstat((spec.state_dir + "/attach").c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);

  AttachConnection conn = AttachConnection::connect(spec.state_dir, true);
  conn.resize(123, 45);
  send(conn, "stty size; echo mark''er\n");  // the quotes keep the echoed command line from matching
  Output o = read_until_text(conn, "marker");
  CHECK(o.out.find("45 123") != std::string::npos);
  CHECK(o.err.empty());  // a tty has one stream

  // The slave on 0, 1, 2; neither the master nor the attach socket leaks in (an interactive
  // shell opens /dev/tty, its controlling terminal, itself). A shell between commands may hold
  // another file for a moment (busybox reads /etc/passwd), so what counts is what stays.
  std::string pid = std::to_string(h.container().pid);
  auto unexpected_fds = [&] {
    std::string found;
    std::set<int> fds;
    for (const auto& entry : stdfs::directory_iterator("/proc/" + pid + "/fd")) {
      int fd = std::stoi(entry.path().filename().string());
      fds.insert(fd);
      std::error_code ec;
      std::string target = stdfs::read_symlink(entry.path(), ec).string();
      bool slave = target.rfind("/dev/pts/", 0) == 0 && target != "/dev/pts/ptmx";
      if (!slave && !(fd > 2 && target == "/dev/tty")) found += "fd " + std::to_string(fd) + " is " + target + "; ";
    }
    if (fds.count(0) + fds.count(1) + fds.count(2) != 3) found += "stdio incomplete; ";
    return found;
  };
  bool clean = eventually([&] { return unexpected_fds().empty(); });
  CHECK_MESSAGE(clean, unexpected_fds());
  send(conn, "exit 5\n");
  o = read_until(conn, [](const Output&) { return false; });
  CHECK(o.eof);
  CHECK(wait_exit(h).exit_code == 5);
  CHECK(text_of(records(spec.log_path, "stdout")).find("F:marker") != std::string::npos);
  CHECK_FALSE(vpcri::fs::exists(spec.state_dir + "/attach"));  // removed once the container ended
  CHECK_THROWS_AS(AttachConnection::connect(spec.state_dir, false), vpcri::Error);
}

TEST_CASE("runtime-monitor-attach: without a tty stdin is a pipe kept open across attachers, stdout and stderr apart") {
  TempDir dir;
  Reaper reaper;
  MonitorSpec spec = shell_spec(dir, {true, false, false});
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);
  {
    AttachConnection first = AttachConnection::connect(spec.state_dir, true);
    AttachConnection watcher = AttachConnection::connect(spec.state_dir, false);  // output only
    send(first, "echo out1; echo err1 >&2\n");
    auto both = [](const Output& got) { return got.out == "out1\n" && got.err == "err1\n"; };
    Output o = read_until(first, both);
    CHECK(o.out == "out1\n");
    CHECK(o.err == "err1\n");
    Output w = read_until(watcher, both);
    CHECK(w.out == "out1\n");
    CHECK(w.err == "err1\n");
    first.close_stdin();  // without stdin_once the container's stdin stays open
  }
  AttachConnection second = AttachConnection::connect(spec.state_dir, true);
  send(second, "echo out2; exit 4\n");
  Output o = read_until(second, [](const Output&) { return false; });
  CHECK(o.out == "out2\n");
  CHECK(o.eof);
  CHECK(wait_exit(h).exit_code == 4);
  CHECK(text_of(records(spec.log_path, "stdout")) == "F:out1\nF:out2\n");
  CHECK(text_of(records(spec.log_path, "stderr")) == "F:err1\n");
}

TEST_CASE("runtime-monitor-attach: stdin_once closes the container's stdin when the first attacher with stdin leaves") {
  TempDir dir;
  Reaper reaper;
  MonitorSpec spec = spec_in(dir, {kBusybox, "cat"});
  spec.stdio = {true, false, true};
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);
  {
    AttachConnection watcher = AttachConnection::connect(spec.state_dir, false);
  }  // an attacher without stdin leaving changes nothing
  AttachConnection watcher = AttachConnection::connect(spec.state_dir, false);
  {
    AttachConnection writer = AttachConnection::connect(spec.state_dir, true);
    send(writer, "abc\n");
    CHECK(read_until_text(writer, "abc\n").out == "abc\n");
    CHECK_FALSE(h.exited());
  }  // cat sees EOF and ends
  Output o = read_until(watcher, [](const Output&) { return false; });
  CHECK(o.eof);
  CHECK(wait_exit(h).exit_code == 0);
}

TEST_CASE("runtime-monitor-attach: a container without stdin reads EOF; stdin sent to it is dropped") {
  TempDir dir;
  Reaper reaper;
  MonitorSpec spec = spec_in(dir, sh("cat; echo done"));
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);
  CHECK(wait_exit(h).exit_code == 0);
  CHECK(text_of(records(spec.log_path, "stdout")) == "F:done\n");
}

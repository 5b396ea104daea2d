// vpcri-monitor end to end: real monitors running busybox, spawned, lost and re-adopted.
#include "runtime/monitor/monitor.h"

#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string_view>
#include <thread>

#include "common/error.h"
#include "common/fs.h"
#include "monitor_test_path.h"
#include "runtime/monitor/monitor_test_support.h"

using namespace vpcri::runtime;
using namespace vpcri::runtime::test;
using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

namespace {

// Detached monitors are reparented to the nearest subreaper, normally init, which reaps them.
// Under a PID 1 that never reaps (common in containers) they would stay zombies, so the tests
// run in a child of a process that plays init for them: subreaper, reaps everything, and returns
// the tests' exit status. The tests' own process stays a non-parent, as vpcrid is.
[[maybe_unused]] const bool kUnderReaper = [] {
  pid_t tests = ::fork();
  if (tests < 0) std::abort();
  if (tests == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    return true;
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  int result = 1, status = 0;
  bool tests_done = false;
  auto deadline = std::chrono::steady_clock::time_point::max();
  for (;;) {
    pid_t pid = ::waitpid(-1, &status, tests_done ? WNOHANG : 0);
    if (pid == tests) {
      result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      tests_done = true;
      deadline = std::chrono::steady_clock::now() + 5s;
    }
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;  // ECHILD: all reaped
    if (pid == 0) {      // stragglers the tests failed to stop: give them a moment, then kill them
      if (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      for (const auto& entry : stdfs::directory_iterator("/proc")) {
        std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string stat;
        try {
          stat = vpcri::fs::read_file(entry.path().string() + "/stat");
        } catch (const vpcri::Error&) {
          continue;  // gone meanwhile
        }
        size_t close_paren = stat.rfind(')');
        if (close_paren == std::string::npos) continue;
        // "pid (comm) S ppid ..."
        if (std::atoi(stat.c_str() + close_paren + 4) == ::getpid()) ::kill(std::stoi(name), SIGKILL);
      }
      deadline = std::chrono::steady_clock::now() + 1s;
    }
  }
  ::_exit(result);
}();

std::string stat_field(pid_t pid, int field) {
  std::string stat = vpcri::fs::read_file("/proc/" + std::to_string(pid) + "/stat");
  std::string rest = stat.substr(stat.rfind(')') + 2);
  for (int i = 3; i < field; i++) rest = rest.substr(rest.find(' ') + 1);
  return rest.substr(0, rest.find(' '));
}

}  // namespace

TEST_CASE("runtime-monitor: the container's output becomes CRI log records and its exit code is recorded") {
  TempDir dir;
  Reaper reaper;
  auto spec = spec_in(dir, sh("echo out; echo err >&2; printf partial; exit 3"));
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);
  CHECK(h.container().pid > 0);
  CHECK(h.monitor().pid > 0);
  CHECK(h.started_at_ns() > 0);
  CHECK(is_rfc3339nano(h.started_at()));

  ExitStatus status = wait_exit(h);
  CHECK(status.exit_code == 3);
  CHECK(status.signal == 0);
  CHECK_FALSE(status.oom);
  CHECK(status.reason == "Error");
  CHECK(is_rfc3339nano(status.finished_at));
  CHECK(status.finished_at_ns >= h.started_at_ns());

  CHECK(text_of(records(spec.log_path, "stdout")) == "F:out\nP:partial\n");
  CHECK(text_of(records(spec.log_path, "stderr")) == "F:err\n");
  struct stat st {};
  REQUIRE(::stat(spec.log_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  // What the daemon finds later is the same.
  auto recorded = read_exit(spec.state_dir);
  REQUIRE(recorded.has_value());
  CHECK(recorded->exit_code == 3);
  CHECK(recorded->finished_at == status.finished_at);
}

TEST_CASE("runtime-monitor: a line longer than 16 KiB is split into P records and ends with F") {
  TempDir dir;
  Reaper reaper;
  auto spec = spec_in(dir, sh("/bin/busybox head -c 40000 /dev/zero | /bin/busybox tr '\\000' a; echo; echo next"));
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);
  CHECK(wait_exit(h).exit_code == 0);
  auto rs = records(spec.log_path, "stdout");
  REQUIRE(rs.size() == 4);
  CHECK(rs[0].tag == 'P');
  CHECK(rs[0].text == std::string(16384, 'a'));
  CHECK(rs[1].tag == 'P');
  CHECK(rs[1].text == std::string(16384, 'a'));
  CHECK(rs[2].tag == 'F');
  CHECK(rs[2].text == std::string(40000 - 2 * 16384, 'a'));
  CHECK(rs[3].tag == 'F');
  CHECK(rs[3].text == "next");
}

TEST_CASE("runtime-monitor: a successful container is Completed, and max_log_line is honoured") {
  TempDir dir;
  Reaper reaper;
  auto spec = spec_in(dir, sh("echo 0123456789"));
  spec.max_log_line = 4;
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);
  ExitStatus status = wait_exit(h);
  CHECK(status.exit_code == 0);
  CHECK(status.reason == "Completed");
  CHECK(text_of(records(spec.log_path, "stdout")) == "P:0123\nP:4567\nF:89\n");
}

TEST_CASE("runtime-monitor: a container killed by a signal exits with 128 + signal") {
  TempDir dir;
  Reaper reaper;
  MonitorHandle h = spawn_monitor(spec_in(dir, {kBusybox, "sleep", "1000"}));
  reaper.add(h);
  CHECK_FALSE(h.exited());
  CHECK(h.signal_container(SIGKILL));
  ExitStatus status = wait_exit(h);
  CHECK(status.exit_code == 128 + 9);
  CHECK(status.signal == 9);
  CHECK(status.reason == "Error");
  CHECK(h.exited());
  CHECK_FALSE(h.signal_container(SIGKILL));  // gone: nothing else is signalled
}

TEST_CASE("runtime-monitor: the container gets only stdin, stdout and stderr; the monitor none of ours") {
  TempDir dir;
  Reaper reaper;
  // An fd of ours without O_CLOEXEC, which must reach neither the monitor nor the container.
  std::string marker = dir / "marker";
  vpcri::UniqueFd leak(::open(marker.c_str(), O_RDWR | O_CREAT, 0600));
  REQUIRE(leak);
  MonitorHandle h = spawn_monitor(spec_in(dir, {kBusybox, "sleep", "1000"}));
  reaper.add(h);

  auto fds_of = [](pid_t pid) {
    std::map<int, std::string> fds;
    std::string dir_path = "/proc/" + std::to_string(pid) + "/fd";
    for (const auto& entry : stdfs::directory_iterator(dir_path)) {
      std::error_code ec;
      fds[std::stoi(entry.path().filename().string())] = stdfs::read_symlink(entry.path(), ec).string();
    }
    return fds;
  };
  auto fds = fds_of(h.container().pid);
  std::set<int> numbers;
  for (const auto& [fd, target] : fds) numbers.insert(fd);
  CHECK(numbers == std::set<int>{0, 1, 2});
  CHECK(fds[0] == "/dev/null");
  CHECK(fds[1].rfind("pipe:", 0) == 0);
  CHECK(fds[2].rfind("pipe:", 0) == 0);
  CHECK(fds[1] != fds[2]);
  for (const auto& [fd, target] : fds_of(h.monitor().pid)) CHECK_MESSAGE(target != marker, "monitor fd " << fd);

  // Detached: the monitor is not our child and not in our session.
  CHECK(std::stoi(stat_field(h.monitor().pid, 4)) != ::getpid());
  CHECK(stat_field(h.monitor().pid, 6) != stat_field(::getpid(), 6));
  h.signal_container(SIGKILL);
  wait_exit(h);
}

TEST_CASE("runtime-monitor: the monitor outlives its spawner and is adopted afterwards") {
  TempDir dir;
  Reaper reaper;
  std::string go = dir / "go";
  auto spec = spec_in(dir, sh("while [ ! -e " + go + " ]; do /bin/busybox sleep 0.02; done; echo bye; exit 5"));

  int report[2];
  REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
  vpcri::UniqueFd report_r(report[0]), report_w(report[1]);
  pid_t spawner = ::fork();
  REQUIRE(spawner >= 0);
  if (spawner == 0) {  // a stand-in for vpcrid: spawn, tell the pids, then wait to be killed
    std::string msg;
    try {
      MonitorHandle h = spawn_monitor(spec);
      msg = std::to_string(h.monitor().pid) + " " + std::to_string(h.container().pid) + "\n";
    } catch (const std::exception& e) {
      msg = std::string("error ") + e.what() + "\n";
    }
    if (::write(report_w.get(), msg.data(), msg.size()) < 0) ::_exit(1);
    for (;;) ::pause();
  }
  reaper.children.push_back(spawner);
  report_w.reset();
  char buf[512] = {};
  REQUIRE(::read(report_r.get(), buf, sizeof buf - 1) > 0);
  std::string reply = buf;
  REQUIRE_MESSAGE(reply.rfind("error", 0) != 0, reply);
  pid_t monitor_pid = std::stoi(reply);
  pid_t container_pid = std::stoi(reply.substr(reply.find(' ') + 1));
  auto monitor_ref = read_monitor_ref(spec.state_dir);
  auto container = read_container_start(spec.state_dir);
  REQUIRE(monitor_ref.has_value());
  REQUIRE(container.has_value());
  reaper.add(*monitor_ref);
  reaper.add(container->process);
  CHECK(monitor_ref->pid == monitor_pid);
  CHECK(container->process.pid == container_pid);

  // The daemon dies hard.
  REQUIRE(::kill(spawner, SIGKILL) == 0);
  REQUIRE(::waitpid(spawner, nullptr, 0) == spawner);
  reaper.children.clear();
  CHECK(is_running(*monitor_ref));
  CHECK(is_running(container->process));

  // A new daemon adopts the monitor and still learns how the container ends.
  auto adopted = adopt(spec.state_dir);
  REQUIRE(std::holds_alternative<MonitorHandle>(adopted));
  const MonitorHandle& h = std::get<MonitorHandle>(adopted);
  CHECK(h.monitor() == *monitor_ref);
  CHECK(h.container() == container->process);
  CHECK(h.started_at() == container->started_at);
  CHECK_FALSE(h.exited());
  CHECK_FALSE(h.wait(50ms).has_value());

  vpcri::fs::write_file_atomic(go, "");
  ExitStatus status = wait_exit(h);
  CHECK(status.exit_code == 5);
  CHECK(text_of(records(spec.log_path, "stdout")) == "F:bye\n");

  // And once the monitor is gone, adopting the directory gives the recorded exit.
  auto later = adopt(spec.state_dir);
  REQUIRE(std::holds_alternative<ExitStatus>(later));
  CHECK(std::get<ExitStatus>(later).exit_code == 5);
  CHECK(std::get<ExitStatus>(later).finished_at == status.finished_at);
}

TEST_CASE("runtime-monitor: adopting after the container ended returns the recorded exit status") {
  TempDir dir;
  Reaper reaper;
  auto spec = spec_in(dir, sh("exit 4"));
  {
    MonitorHandle h = spawn_monitor(spec);
    reaper.add(h);
    REQUIRE(h.wait(20s).has_value());
  }
  auto adopted = adopt(spec.state_dir);
  REQUIRE(std::holds_alternative<ExitStatus>(adopted));
  const auto& status = std::get<ExitStatus>(adopted);
  CHECK(status.exit_code == 4);
  CHECK(status.reason == "Error");
  CHECK_FALSE(status.finished_at.empty());
}

TEST_CASE("runtime-monitor: a monitor killed before recording the exit is reported as Unknown") {
  TempDir dir;
  Reaper reaper;
  auto spec = spec_in(dir, {kBusybox, "sleep", "1000"});
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);
  REQUIRE(send_signal(h.pidfd(), SIGKILL));
  auto status = h.wait(20s);
  REQUIRE(status.has_value());
  CHECK(status->reason == kExitUnknown);
  CHECK(status->exit_code == kExitCodeUnknown);
  CHECK(status->message.find("still runs") != std::string::npos);

  auto adopted = adopt(spec.state_dir);
  REQUIRE(std::holds_alternative<ExitStatus>(adopted));
  CHECK(std::get<ExitStatus>(adopted).reason == kExitUnknown);
  CHECK(std::get<ExitStatus>(adopted).message.find(std::to_string(h.monitor().pid)) != std::string::npos);
}

TEST_CASE("runtime-monitor: a recycled pid is not adopted") {
  TempDir dir;
  std::string state = dir / "state";
  vpcri::fs::mkdir_p(state);
  // The recorded monitor pid now belongs to an unrelated live process (this test) started at
  // another time.
  auto start = process_start_time(::getpid());
  REQUIRE(start.has_value());
  vpcri::fs::write_file_atomic(state + "/monitor", "pid=" + std::to_string(::getpid()) +
                                                       "\nstart_time=" + std::to_string(*start + 1) + "\n");
  vpcri::fs::write_file_atomic(state + "/pid", "pid=" + std::to_string(::getpid()) + "\nstart_time=" +
                                                   std::to_string(*start + 1) + "\nstarted_at_ns=1\n");
  auto adopted = adopt(state);
  REQUIRE(std::holds_alternative<ExitStatus>(adopted));
  CHECK(std::get<ExitStatus>(adopted).reason == kExitUnknown);
  CHECK(std::get<ExitStatus>(adopted).message.find("still runs") == std::string::npos);
  CHECK_FALSE(is_running(ProcessRef{::getpid(), *start + 1}));
  CHECK(is_running(ProcessRef{::getpid(), *start}));
}

TEST_CASE("runtime-monitor: a second monitor for a state directory in use refuses to start") {
  TempDir dir;
  Reaper reaper;
  auto spec = spec_in(dir, {kBusybox, "sleep", "1000"});
  CHECK_FALSE(monitor_running(spec.state_dir));
  MonitorHandle first = spawn_monitor(spec);
  reaper.add(first);
  CHECK(monitor_running(spec.state_dir));
  // A retried start after a crash: it must not run a second container in the same directory.
  try {
    MonitorHandle second = spawn_monitor(spec);
    reaper.add(second);
    FAIL("a second monitor started in " << spec.state_dir);
  } catch (const vpcri::Error& e) {
    CHECK(std::string(e.what()).find("locked by another vpcri-monitor") != std::string::npos);
    CHECK(e.code() == vpcri::Errc::failed_precondition);
  }
  // The refused start must not stop what the first monitor runs (it once did, in its cleanup).
  CHECK_FALSE(first.wait(500ms).has_value());
  auto adopted = adopt(spec.state_dir);
  REQUIRE(std::holds_alternative<MonitorHandle>(adopted));
  CHECK(std::get<MonitorHandle>(adopted).monitor().pid == first.monitor().pid);
  REQUIRE(first.signal_container(SIGKILL));
  REQUIRE(first.wait(20s).has_value());
  CHECK_FALSE(monitor_running(spec.state_dir));
}

TEST_CASE("runtime-monitor: adopting a directory with no monitor or no directory at all") {
  TempDir dir;
  auto adopted = adopt(dir.path);
  REQUIRE(std::holds_alternative<ExitStatus>(adopted));
  CHECK(std::get<ExitStatus>(adopted).reason == kExitUnknown);
  try {
    adopt(dir / "missing");
    FAIL("adopt of a missing directory did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::not_found);
  }
}

TEST_CASE("runtime-monitor: reopening the log after a rotation writes new lines to the new file") {
  TempDir dir;
  Reaper reaper;
  std::string go = dir / "go";
  auto spec = spec_in(dir, sh("echo before; while [ ! -e " + go + " ]; do /bin/busybox sleep 0.02; done; echo after"));
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);
  REQUIRE(eventually([&] { return records(spec.log_path, "stdout").size() == 1; }));

  std::string rotated = spec.log_path + ".1";
  REQUIRE(::rename(spec.log_path.c_str(), rotated.c_str()) == 0);
  reopen_log(h);
  CHECK(read_log_reopen(spec.state_dir).count == 1);
  CHECK(read_log_reopen(spec.state_dir).error.empty());
  CHECK(vpcri::fs::exists(spec.log_path));

  vpcri::fs::write_file_atomic(go, "");
  CHECK(wait_exit(h).exit_code == 0);
  CHECK(text_of(records(rotated, "stdout")) == "F:before\n");
  CHECK(text_of(records(spec.log_path, "stdout")) == "F:after\n");

  try {
    reopen_log(h);
    FAIL("reopen of an exited container did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::failed_precondition);
  }
}

TEST_CASE("runtime-monitor: a failed log reopen is reported and logging continues in the old file") {
  TempDir dir;
  Reaper reaper;
  std::string go = dir / "go";
  vpcri::fs::mkdir_p(dir / "logs");
  auto spec = spec_in(dir, sh("echo before; while [ ! -e " + go + " ]; do /bin/busybox sleep 0.02; done; echo after"));
  spec.log_path = dir / "logs/container.log";
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);
  REQUIRE(eventually([&] { return records(spec.log_path, "stdout").size() == 1; }));

  // The log directory disappears: the monitor cannot create the new file.
  std::string moved = dir / "logs-moved";
  REQUIRE(::rename((dir / "logs").c_str(), moved.c_str()) == 0);
  try {
    reopen_log(h);
    FAIL("reopen into a missing directory did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::not_found);
    CHECK(std::string(e.what()).find(spec.log_path) != std::string::npos);
  }
  auto result = read_log_reopen(spec.state_dir);
  CHECK(result.count == 1);
  CHECK(result.error_errno == ENOENT);

  vpcri::fs::write_file_atomic(go, "");
  CHECK(wait_exit(h).exit_code == 0);
  CHECK(text_of(records(moved + "/container.log", "stdout")) == "F:before\nF:after\n");
}

TEST_CASE("runtime-monitor: the log file is created beneath the log directory and never through a symlink") {
  TempDir dir;
  Reaper reaper;
  const std::string logs = dir / "logs", host_file = dir / "host-file";
  vpcri::fs::mkdir_p(logs);
  vpcri::fs::write_file_atomic(host_file, "host data\n");

  SUBCASE("missing directories below the log directory are created") {
    auto spec = spec_in(dir, sh("echo fine"));
    spec.log_dir = logs;
    spec.log_path = logs + "/ctr/0.log";
    MonitorHandle h = spawn_monitor(spec);
    reaper.add(h);
    CHECK(wait_exit(h).exit_code == 0);
    CHECK(text_of(records(spec.log_path, "stdout")) == "F:fine\n");
  }
  SUBCASE("a symlink at the log's place, on its way, or a second hard link: the start fails, the host file stays") {
    std::string log_path;
    SUBCASE("the file") {
      log_path = logs + "/0.log";
      REQUIRE(::symlink(host_file.c_str(), log_path.c_str()) == 0);
    }
    SUBCASE("a dangling symlink") {
      log_path = logs + "/0.log";
      REQUIRE(::symlink((dir / "new-host-file").c_str(), log_path.c_str()) == 0);
    }
    SUBCASE("a directory") {
      REQUIRE(::symlink(dir.path.c_str(), (logs + "/ctr").c_str()) == 0);
      log_path = logs + "/ctr/host-file";
    }
    SUBCASE("a hard link") {
      log_path = logs + "/0.log";
      REQUIRE(::link(host_file.c_str(), log_path.c_str()) == 0);
    }
    auto spec = spec_in(dir, sh("echo leaked"));
    spec.log_dir = logs;
    spec.log_path = log_path;
    CHECK_THROWS_WITH(spawn_monitor(spec), doctest::Contains(("open log file " + log_path).c_str()));
    CHECK(vpcri::fs::read_file(host_file) == "host data\n");
    CHECK(!vpcri::fs::exists(dir / "new-host-file"));
  }
}

TEST_CASE("runtime-monitor: a command that cannot be executed fails the spawn with the exec error") {
  TempDir dir;
  auto spec = spec_in(dir, {"/nonexistent/command", "arg"});
  try {
    spawn_monitor(spec);
    FAIL("spawn of a missing command did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::not_found);
    std::string what = e.what();
    CHECK(what.find("exec \"/nonexistent/command\"") != std::string::npos);
    CHECK(what.find("No such file or directory") != std::string::npos);
  }
  auto status = read_exit(spec.state_dir);
  REQUIRE(status.has_value());
  CHECK(status->reason == "StartError");
  CHECK(status->exit_code == 128);
  CHECK(status->message.find("/nonexistent/command") != std::string::npos);
  auto monitor = read_monitor_ref(spec.state_dir);
  REQUIRE(monitor.has_value());
  CHECK(eventually([&] { return !is_running(*monitor); }));
  // The state directory of a finished container cannot be reused by mistake.
  try {
    spawn_monitor(spec);
    FAIL("spawn into a used state directory did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(std::string(e.what()).find("already holds an exit file") != std::string::npos);
  }
}

TEST_CASE("runtime-monitor: a missing monitor binary or a bad spec fails clearly") {
  TempDir dir;
  auto spec = spec_in(dir, {kBusybox, "true"});
  spec.monitor_path = dir / "no-such-monitor";
  try {
    spawn_monitor(spec);
    FAIL("spawn with a missing monitor did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::not_found);
    CHECK(std::string(e.what()).find("exec vpcri-monitor") != std::string::npos);
  }
  spec.monitor_path = VPCRI_MONITOR_PATH;
  spec.state_dir = "relative/state";
  CHECK_THROWS_AS(spawn_monitor(spec), vpcri::Error);
  spec.state_dir = dir / "missing";
  try {
    spawn_monitor(spec);
    FAIL("spawn into a missing state directory did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::not_found);
  }
}

namespace {

// Runs `script` under a monitor whose cgroup is a stand-in directory (the monitor only reads its
// memory.events) holding `events`, and returns how the process ended.
ExitStatus exit_with_cgroup(const TempDir& dir, const std::string& cgroup, const std::string& events,
                            const std::string& script) {
  Reaper reaper;
  vpcri::fs::mkdir_p(cgroup);
  vpcri::fs::write_file_atomic(cgroup + "/memory.events", events);
  auto spec = spec_in(dir, sh(script));
  spec.cgroup_dir = cgroup;
  MonitorHandle h = spawn_monitor(spec);
  reaper.add(h);
  return wait_exit(h);
}

constexpr const char* kNoOomEvents = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n";

}  // namespace

TEST_CASE("runtime-monitor: an OOM kill in the container's cgroup is recorded") {
  TempDir dir;
  ExitStatus status =
      exit_with_cgroup(dir, dir / "cgroup", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n", "kill -9 $$");
  CHECK(status.oom);
  CHECK(status.reason == "OOMKilled");
  CHECK(status.exit_code == 137);
}

TEST_CASE("runtime-monitor: an OOM kill is recorded though the cgroup is gone when the container ends") {
  // The systemd driver's case: systemd removes an emptied scope, memory.events included, about
  // when the monitor reaps the container. The kernel rewrites memory.events in place at the kill;
  // the stand-in does the same, then the "scope" goes before the process ends.
  TempDir dir;
  const std::string cgroup = dir / "cgroup";
  ExitStatus status = exit_with_cgroup(dir, cgroup, kNoOomEvents,
                                       "sleep 0.5; printf 'low 0\\nhigh 0\\nmax 9\\noom 1\\noom_kill 1\\n' > " +
                                           cgroup + "/memory.events; sleep 1; rm -r " + cgroup + "; kill -9 $$");
  CHECK_FALSE(std::filesystem::exists(cgroup));
  CHECK(status.oom);
  CHECK(status.reason == "OOMKilled");
  CHECK(status.exit_code == 137);
}

TEST_CASE("runtime-monitor: no OOM is recorded when the cgroup saw no OOM kill") {
  TempDir dir;
  ExitStatus status = exit_with_cgroup(dir, dir / "cgroup", kNoOomEvents, "exit 1");
  CHECK_FALSE(status.oom);
  CHECK(status.reason == "Error");
}

TEST_CASE("runtime-monitor: state files parse as key=value lines") {
  auto kv = parse_state("a=1\nb=x=y\n\nnoequals\nc=");
  CHECK(kv.size() == 3);
  CHECK(kv["a"] == "1");
  CHECK(kv["b"] == "x=y");
  CHECK(kv["c"] == "");
}

TEST_CASE("runtime-monitor: --pidns new makes the process pid 1; a path joins that namespace") {
  TempDir dir;
  TempDir dir2;
  Reaper reaper;
  auto first = spec_in(dir, sh("echo $$; exec /bin/busybox sleep 1000"));
  first.pidns = "new";
  MonitorHandle h = spawn_monitor(first);
  reaper.add(h);
  CHECK(eventually([&] { return text_of(records(first.log_path, "stdout")) == "F:1\n"; }));
  std::string ns_path = "/proc/" + std::to_string(h.container().pid) + "/ns/pid";
  std::string inode = stdfs::read_symlink(ns_path).string();
  CHECK(inode != stdfs::read_symlink("/proc/self/ns/pid").string());

  // (the host's /proc still resolves /proc/self: the namespace is read from outside)
  auto second = spec_in(dir2, sh("echo $$; /bin/busybox readlink /proc/self/ns/pid"));
  second.pidns = ns_path;
  MonitorHandle h2 = spawn_monitor(second);
  reaper.add(h2);
  CHECK(wait_exit(h2).exit_code == 0);
  auto out = records(second.log_path, "stdout");
  REQUIRE(out.size() == 2);
  CHECK(out[0].text != "1");  // pid 1 is the first container
  CHECK(out[1].text == inode);
  h.signal_container(SIGKILL);
  CHECK(wait_exit(h).signal == SIGKILL);
}

TEST_CASE("runtime-monitor: a bad --pidns fails the spawn") {
  TempDir dir;
  auto spec = spec_in(dir, {kBusybox, "true"});
  spec.pidns = dir / "no-such-namespace";
  try {
    spawn_monitor(spec);
    FAIL("spawn into a missing PID namespace did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::not_found);
    CHECK(std::string(e.what()).find("open PID namespace " + spec.pidns + ": No such file") != std::string::npos);
  }
  spec.pidns = "relative";
  CHECK_THROWS_AS(spawn_monitor(spec), vpcri::Error);
}

TEST_CASE("runtime-monitor: --init-pipe hands fd 3 to the process, which reports a failed start through it") {
  TempDir dir;
  Reaper reaper;
  // errno 13 (EACCES) and a message, as vpcri-init sends them.
  auto spec = spec_in(dir, sh("printf '\\015\\000\\000\\000mount /proc: Permission denied\\nmore' >&3; exit 1"));
  spec.init_pipe = true;
  try {
    spawn_monitor(spec);
    FAIL("a start reported as failed did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::internal);
    CHECK(std::string(e.what()) == "vpcri-monitor for " + spec.state_dir + ": mount /proc: Permission denied more");
  }
  auto status = read_exit(spec.state_dir);
  REQUIRE(status.has_value());
  CHECK(status->reason == "StartError");
  CHECK(status->exit_code == 128);
  CHECK(status->message == "mount /proc: Permission denied more");

  // Success: the pipe is at fd 3 (and nothing else above stdio); closing it says "started".
  TempDir dir2;
  auto ok = spec_in(dir2, sh("ls /proc/$$/fd; test -p /proc/$$/fd/3 && echo pipe; exec 3>&-; echo started"));
  ok.init_pipe = true;
  MonitorHandle h = spawn_monitor(ok);
  reaper.add(h);
  CHECK(wait_exit(h).exit_code == 0);
  CHECK(text_of(records(ok.log_path, "stdout")) == "F:0\nF:1\nF:2\nF:3\nF:pipe\nF:started\n");

  // An exec failure of the command itself still reports the exec error.
  TempDir dir3;
  auto missing = spec_in(dir3, {"/nonexistent/init"});
  missing.init_pipe = true;
  CHECK_THROWS_WITH(spawn_monitor(missing), doctest::Contains("exec \"/nonexistent/init\": No such file or directory"));
}

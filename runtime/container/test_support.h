// Real containers for tests: a busybox rootfs (Debian's busybox-static) under a RootfsOverlay,
// launched through launch(), and guards that remove everything a test started or mounted.
#pragma once

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>

#include "common/error.h"
#include "common/fs.h"
#include "init_test_path.h"
#include "monitor_test_path.h"
#include "runtime/container/launch.h"
#include "runtime/container/readonly_binary.h"
#include "runtime/snapshot/overlay.h"

namespace vpcri::runtime::container::test {

using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

// Monitors are detached and reparented to the nearest subreaper: the tests run in a child of a
// process that is one and reaps them (as runtime/monitor/monitor_test.cc explains).
inline const bool kUnderReaper = [] {
  pid_t tests = ::fork();
  if (tests < 0) std::abort();
  if (tests == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    return true;
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  int result = 1, status = 0;
  for (;;) {
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid == tests) result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;  // ECHILD: all reaped
  }
  ::_exit(result);
}();

// vpcri-init as vpcrid runs it: through a private read-only mount.
inline Binaries binaries() {
  static const ReadOnlyBinary init = ReadOnlyBinary::open(VPCRI_INIT_PATH);
  return {VPCRI_MONITOR_PATH, VPCRI_INIT_PATH, init.fd()};
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/vpcri-container-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// An image layer with busybox and a few accounts.
inline void make_busybox_layer(const std::string& dir) {
  fs::mkdir_p(dir + "/bin");
  fs::mkdir_p(dir + "/etc");
  fs::mkdir_p(dir + "/tmp");
  stdfs::copy_file("/bin/busybox", dir + "/bin/busybox");
  for (const char* applet : {"sh", "cat", "ls", "id", "sleep", "hostname", "readlink", "echo", "grep", "touch",
                             "wc", "pwd", "unshare", "true", "stat", "head", "mkdir", "test"}) {
    stdfs::create_symlink("busybox", dir + "/bin/" + applet);
  }
  fs::write_file_atomic(dir + "/etc/passwd",
                        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n");
  fs::write_file_atomic(dir + "/etc/group", "root:x:0:\nwheel:x:10:user\nusers:x:100:user\nuser:x:1000:\n");
}

// Kills, at the end of a test whatever happened, the monitors and containers it started.
struct Reaper {
  std::vector<ProcessRef> processes;
  void add(const MonitorHandle& h) {
    processes.push_back(h.monitor());
    processes.push_back(h.container());
  }
  ~Reaper() {
    for (const auto& ref : processes) {
      UniqueFd fd = open_pidfd(ref);
      if (fd) send_signal(fd.get(), SIGKILL);
    }
    for (const auto& ref : processes) {  // the overlay is only removable once they are gone
      for (int i = 0; i < 500 && is_running(ref); i++) std::this_thread::sleep_for(10ms);
    }
  }
};

// One container: its own busybox layer, overlay rootfs, state directory and log.
struct Container {
  TempDir dir;
  std::optional<snapshot::RootfsOverlay> overlay;
  std::string state_dir, log_path;

  Container() {
    make_busybox_layer(dir / "layer");
    state_dir = dir / "state";
    log_path = dir / "container.log";
    fs::mkdir_p(state_dir);
  }
  // Call after adding files to the layer.
  const std::string& mount() {
    overlay.emplace(std::vector<std::string>{dir / "layer"}, dir / "container", dir / "rootfs");
    return overlay->target();
  }
  ~Container() {
    if (overlay) overlay->remove();
  }
};

// The stdout of a CRI log as plain text (F records end a line, P records do not).
inline std::string log_text(const std::string& path, const std::string& stream = "stdout") {
  std::string content = fs::exists(path) ? fs::read_file(path) : "", out;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string::npos) break;
    std::string line = content.substr(pos, end - pos);
    pos = end + 1;
    size_t s1 = line.find(' '), s2 = line.find(' ', s1 + 1);
    if (s2 == std::string::npos || line.substr(s1 + 1, s2 - s1 - 1) != stream || line.size() < s2 + 3) continue;
    out += line.substr(s2 + 3);
    if (line[s2 + 1] == 'F') out += '\n';
  }
  return out;
}

inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace vpcri::runtime::container::test

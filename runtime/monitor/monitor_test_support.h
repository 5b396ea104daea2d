// Helpers of the vpcri-monitor tests (monitor_test.cc, attach_test.cc): temporary directories,
// a reaper for what a test started, monitor specs running busybox, and the CRI log's records.
#pragma once

#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "monitor_test_path.h"
#include "runtime/monitor/monitor.h"

namespace vpcri::runtime::test {

using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

constexpr const char* kBusybox = "/bin/busybox";

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/vpcri-monitor-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// Kills, at the end of a test whatever happened, every process it started and that still runs.
struct Reaper {
  std::vector<ProcessRef> processes;
  std::vector<pid_t> children;  // our own children: killed and waited for
  void add(const ProcessRef& ref) { processes.push_back(ref); }
  void add(const MonitorHandle& h) {
    add(h.monitor());
    add(h.container());
  }
  ~Reaper() {
    for (pid_t pid : children) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (const auto& ref : processes) {
      vpcri::UniqueFd fd = open_pidfd(ref);
      if (fd) send_signal(fd.get(), SIGKILL);
    }
  }
};

inline MonitorSpec spec_in(const TempDir& dir, std::vector<std::string> argv) {
  MonitorSpec spec;
  spec.monitor_path = VPCRI_MONITOR_PATH;
  spec.state_dir = dir / "state";
  spec.log_path = dir / "container.log";
  spec.argv = std::move(argv);
  vpcri::fs::mkdir_p(spec.state_dir);
  return spec;
}

inline std::vector<std::string> sh(const std::string& script) { return {kBusybox, "sh", "-c", script}; }

inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

struct Record {
  std::string stream;
  char tag;
  std::string text;
};

// "2024-05-01T12:34:56.123456789Z": what the monitor writes (UTC, nine fraction digits).
inline bool is_rfc3339nano(std::string_view ts) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddddddddZ";
  if (ts.size() != kShape.size()) return false;
  for (size_t i = 0; i < ts.size(); i++) {
    if (kShape[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != kShape[i]) return false;
  }
  return true;
}

// The log's records of one stream; fails the test on a line that is not a CRI record
// ("<timestamp> <stdout|stderr> <F|P> <text>").
inline std::vector<Record> records(const std::string& path, const std::string& stream) {
  std::vector<Record> out;
  std::string content = vpcri::fs::exists(path) ? vpcri::fs::read_file(path) : "";
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    REQUIRE_MESSAGE(end != std::string::npos, "log does not end with a newline: " << content.substr(pos));
    std::string line = content.substr(pos, end - pos);
    pos = end + 1;
    size_t s1 = line.find(' '), s2 = line.find(' ', s1 + 1);
    bool ok = s1 != std::string::npos && s2 != std::string::npos && is_rfc3339nano(line.substr(0, s1)) &&
              line.size() >= s2 + 3 && (line[s2 + 1] == 'F' || line[s2 + 1] == 'P') && line[s2 + 2] == ' ';
    std::string name = ok ? line.substr(s1 + 1, s2 - s1 - 1) : "";
    REQUIRE_MESSAGE((ok && (name == "stdout" || name == "stderr")), "not a CRI log record: " << line.substr(0, 200));
    if (name == stream) out.push_back({name, line[s2 + 1], line.substr(s2 + 3)});
  }
  return out;
}

inline std::string text_of(const std::vector<Record>& rs) {
  std::string out;
  for (const auto& r : rs) out += std::string(1, r.tag) + ":" + r.text + "\n";
  return out;
}

inline ExitStatus wait_exit(const MonitorHandle& h) {
  auto status = h.wait(20s);
  REQUIRE_MESSAGE(status.has_value(), "container in " << h.state_dir() << " did not exit");
  return *status;
}

}  // namespace vpcri::runtime::test

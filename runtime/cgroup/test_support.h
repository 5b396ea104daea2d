// Helpers for the cgroup tests only: scratch cgroups that are always cleaned up, child processes
// that are always reaped, fake cgroupfs trees in a temp dir.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/cgroup/root.h"

namespace vpcri::runtime::cgroup::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string trimmed(const std::string& path) {
  std::string s = slurp(path);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The value of `key` in a flat-keyed cgroup2 file ("key value" lines: cpu.stat, memory.events);
// nullopt when the file or the key is not there.
inline std::optional<uint64_t> keyed_value(const std::string& path, const std::string& key) {
  std::istringstream in(slurp(path));
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return std::nullopt;
}

// A child process, killed with SIGKILL and reaped on destruction unless already reaped.
// The body runs after the parent calls release(), so the parent can first move it into a cgroup.
class ScopedChild {
 public:
  explicit ScopedChild(std::function<void()> body) {
    int gate[2];
    if (::pipe2(gate, O_CLOEXEC) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {
      // Not doctest's crash handlers: a signal the test sends must act as it would on any process.
      for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }
      body();
      ::_exit(0);
    }
    ::close(gate[0]);
    gate_ = gate[1];
  }
  // exec()s argv right away (the cgroup move happens while it runs).
  static ScopedChild exec(std::vector<std::string> argv) {
    return ScopedChild(
        [argv] {
          std::vector<char*> args;
          for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
          args.push_back(nullptr);
          ::execvp(args[0], args.data());
          ::_exit(127);
        },
        true);
  }
  ScopedChild(ScopedChild&& o) noexcept : pid_(std::exchange(o.pid_, -1)), gate_(std::exchange(o.gate_, -1)) {}
  ScopedChild& operator=(ScopedChild&&) = delete;
  ~ScopedChild() {
    if (gate_ >= 0) ::close(gate_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void release() {
    if (gate_ >= 0) {
      [[maybe_unused]] auto n = ::write(gate_, "x", 1);
      ::close(gate_);
      gate_ = -1;
    }
  }
  // Waits up to `timeout` for the child to end; returns its wait status, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (r < 0 || std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  ScopedChild(std::function<void()> body, bool released) : ScopedChild(std::move(body)) {
    if (released) release();
  }
  pid_t pid_ = -1;
  int gate_ = -1;
};

// Polls `pred` every 5ms for up to `timeout`.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Reaps every exited child (grandchildren re-parented to us as subreaper included).
inline void reap_all() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

// A unique "/vpcri-test-<hex>" cgroup parent in every hierarchy of `root`. Creates nothing
// itself; on destruction thaws, SIGKILLs every process under it and removes all it holds.
// Never touches anything outside <mount>/vpcri-test-<hex>.
class ScratchCgroupParent {
 public:
  explicit ScratchCgroupParent(const CgroupRoot& root) {
    for (const auto& [controller, mount] : root.v1_mounts)
      if (std::find(mounts_.begin(), mounts_.end(), mount) == mounts_.end()) mounts_.push_back(mount);
    if (!root.unified_mount.empty()) mounts_.push_back(root.unified_mount);
    std::random_device rd;
    for (;;) {
      std::ostringstream name;
      name << "vpcri-test-" << std::hex << rd() << rd();
      name_ = name.str();
      bool free = true;
      for (const auto& m : mounts_) free = free && !std::filesystem::exists(m + "/" + name_);
      if (free) break;
    }
  }
  ScratchCgroupParent(const ScratchCgroupParent&) = delete;
  ScratchCgroupParent& operator=(const ScratchCgroupParent&) = delete;
  ~ScratchCgroupParent() {
    for (const auto& m : mounts_) cleanup(m + "/" + name_);
  }
  std::string path() const { return "/" + name_; }
  const std::string& name() const { return name_; }

 private:
  static void write_if_exists(const std::string& path, const char* value) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    [[maybe_unused]] auto n = ::write(fd, value, std::strlen(value));
    ::close(fd);
  }
  static std::vector<std::string> subdirs(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.is_directory(ec)) out.push_back(e.path().string());
    return out;
  }
  static void kill_tree(const std::string& dir) {
    write_if_exists(dir + "/freezer.state", "THAWED");
    write_if_exists(dir + "/cgroup.freeze", "0");
    std::istringstream procs(slurp(dir + "/cgroup.procs"));
    for (pid_t pid; procs >> pid;) ::kill(pid, SIGKILL);
    for (const auto& sub : subdirs(dir)) kill_tree(sub);
  }
  static bool rmdir_tree(const std::string& dir) {
    bool ok = true;
    for (const auto& sub : subdirs(dir)) ok = rmdir_tree(sub) && ok;
    return (::rmdir(dir.c_str()) == 0 || errno == ENOENT) && ok;
  }
  static void cleanup(const std::string& dir) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::filesystem::exists(dir)) {
      kill_tree(dir);
      reap_all();
      if (rmdir_tree(dir) || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  std::vector<std::string> mounts_;
  std::string name_;
};

// A temp directory standing in for a cgroup mount: directories and files are plain ones.
class FakeTree {
 public:
  FakeTree() {
    char tmpl[] = "/tmp/vpcri-cgfake.XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    root_ = tmpl;
  }
  ~FakeTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;
  const std::string& root() const { return root_; }
  // Writes <root>/<rel> (creating directories).
  void put(const std::string& rel, const std::string& content) const {
    auto path = std::filesystem::path(root_) / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << content;
  }
  std::string get(const std::string& rel) const { return slurp(root_ + "/" + rel); }

 private:
  std::string root_;
};

// Whether `fd` becomes readable within `timeout`.
inline bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 && (p.revents & POLLIN);
}

}  // namespace vpcri::runtime::cgroup::testing

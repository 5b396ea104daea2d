// Starts a real vpcrid on a temp socket with temp root/state dirs, waits for its sd_notify
// readiness, and always stops and cleans up (even when a test fails).
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cri/api/cri_api.h"

namespace vpcri::test {

// Path of a binary under test, from the environment meson sets (VPCRID, VPCRICTL, VPCRI_PAUSE).
std::string binary(const char* env_name);

struct RunResult {
  int exit_code = -1;  // -signal when killed by a signal
  std::string out, err;
};

// Whether `pid` runs (a zombie has ended: only its reaping is left).
bool process_runs(pid_t pid);
// The parent of `pid`; 0 once it is gone.
pid_t parent_pid(pid_t pid);

// Runs argv to completion (bounded by `timeout`), capturing stdout and stderr.
RunResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(30));

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class Daemon {
 public:
  // Dirs default to <tmp>/root, <tmp>/state, <tmp>/run/vpcri.sock.
  explicit Daemon(std::vector<std::string> extra_args = {});
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts vpcrid inside this network namespace (e.g. /run/netns/NAME): setns in the child
  // before exec, like `nsenter --net=PATH` (unlike `ip netns exec`, the mounts stay as they are).
  void set_netns(const std::string& path) { netns_ = path; }
  // Sends SIGKILL and waits (a crash); the pods and their monitors stay.
  void kill9() { stop(9); }

  // Writes <tmp>/config.yaml and passes --config to every later start.
  void set_config(const std::string& yaml);

  // Starts vpcrid and waits for READY=1; throws with the daemon's log if it exits or times out.
  void start();
  // Sends `sig` and waits for exit; returns the exit code (or -signal).
  int stop(int sig);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  const std::string& dir() const { return tmp_.path(); }
  std::string root() const { return dir() + "/root"; }
  std::string state() const { return dir() + "/state"; }
  std::string socket() const { return dir() + "/run/vpcri.sock"; }
  std::string log() const;  // what the daemon wrote to stderr so far
  std::vector<std::string> args() const;

  runtime::v1::RuntimeService::Stub& runtime();
  runtime::v1::ImageService::Stub& images();

 private:
  TempDir tmp_;
  std::vector<std::string> extra_args_;
  std::string netns_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<runtime::v1::ImageService::Stub> images_;
};

// A client context with a deadline, so a hung daemon fails the test instead of hanging it.
std::unique_ptr<grpc::ClientContext> context(std::chrono::seconds timeout = std::chrono::seconds(10));

}  // namespace vpcri::test

// vpcrictl commands. Each takes the client, the global options and its own arguments, and
// returns the exit code; errors are thrown as exceptions and printed by main.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "cri/ctl/client.h"
#include "cri/ctl/output.h"

namespace vpcri::ctl {

struct Options {
  std::string endpoint;
  std::chrono::milliseconds timeout{10000};
  bool timeout_set = false;  // pulls and imports get a longer default than quick calls
  Format format = Format::table;
};

using Args = std::vector<std::string>;

int cmd_version(Client&, const Options&, const Args&);
int cmd_net(Client&, const Options&, const Args&);  // net.cc
int cmd_info(Client&, const Options&, const Args&);
int cmd_runtime_config(Client&, const Options&, const Args&);
int cmd_update_runtime_config(Client&, const Options&, const Args&);
int cmd_pull(Client&, const Options&, const Args&);
int cmd_images(Client&, const Options&, const Args&);
int cmd_inspecti(Client&, const Options&, const Args&);
int cmd_rmi(Client&, const Options&, const Args&);
int cmd_image(Client&, const Options&, const Args&);
int cmd_imagefsinfo(Client&, const Options&, const Args&);
int cmd_runp(Client&, const Options&, const Args&);
int cmd_stopp(Client&, const Options&, const Args&);
int cmd_rmp(Client&, const Options&, const Args&);
int cmd_pods(Client&, const Options&, const Args&);
int cmd_inspectp(Client&, const Options&, const Args&);
int cmd_statsp(Client&, const Options&, const Args&);
int cmd_create(Client&, const Options&, const Args&);
int cmd_run(Client&, const Options&, const Args&);
int cmd_start(Client&, const Options&, const Args&);
int cmd_stop(Client&, const Options&, const Args&);
int cmd_rm(Client&, const Options&, const Args&);
int cmd_ps(Client&, const Options&, const Args&);
int cmd_inspect(Client&, const Options&, const Args&);
int cmd_logs(Client&, const Options&, const Args&);
int cmd_exec(Client&, const Options&, const Args&);
int cmd_attach(Client&, const Options&, const Args&);
// Exec through the streaming server (exec -i / -t); returns the command's exit code.
int exec_streaming(Client& client, const std::string& container, const std::vector<std::string>& cmd, bool in,
                   bool tty, bool websocket);
int cmd_port_forward(Client&, const Options&, const Args&);
// Blocks, in the calling thread, the signals `command` reads through a signalfd (exec and attach:
// SIGWINCH). Call before the gRPC client starts threads: a signal sent to the process reaches any
// thread that does not block it, where the signalfd misses it.
void block_signals_read_by(const std::string& command);
int cmd_stats(Client&, const Options&, const Args&);
int cmd_update(Client&, const Options&, const Args&);
int cmd_events(Client&, const Options&, const Args&);

// "12.3MB", like crictl (decimal units).
std::string human_size(uint64_t bytes);

// Deadline for calls that create, start, stop or remove pods and containers: the global
// --timeout if given, else a few minutes (they may wait on images, networks and processes).
std::chrono::milliseconds lifecycle_timeout(const Options& opts);

// Nanoseconds since the epoch, the unit of the CRI's timestamps.
int64_t now_ns();

// RunPodSandbox with the config loaded from `config_file` into *config; returns the pod's id.
std::string run_pod(Client& client, const Options& opts, const std::string& config_file, const std::string& handler,
                    runtime::v1::PodSandboxConfig* config);

}  // namespace vpcri::ctl

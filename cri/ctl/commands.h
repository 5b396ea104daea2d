// vpcrictl commands. Each takes the client, the global options and its own arguments, and
// returns the exit code; errors are thrown as exceptions and printed by main.
#pragma once

#include <chrono>
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
int cmd_info(Client&, const Options&, const Args&);
int cmd_pull(Client&, const Options&, const Args&);
int cmd_images(Client&, const Options&, const Args&);
int cmd_inspecti(Client&, const Options&, const Args&);
int cmd_rmi(Client&, const Options&, const Args&);
int cmd_image(Client&, const Options&, const Args&);
int cmd_imagefsinfo(Client&, const Options&, const Args&);

// "12.3MB", like crictl (decimal units).
std::string human_size(uint64_t bytes);

}  // namespace vpcri::ctl

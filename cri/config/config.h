// vpcrid's configuration: embedded defaults, overridden by /etc/vpcri/config.yaml, overridden by
// command-line flags. Every key is documented in docs/config.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/log.h"

namespace vpcri::cri {

enum class CgroupDriver { cgroupfs, systemd };

struct Config {
  std::string root = "/var/lib/vpcri";          // persistent state: images, checkpoints
  std::string state = "/run/vpcri";             // runtime state: gone at reboot
  std::string socket = "/run/vpcri/vpcri.sock"; // CRI endpoint
  log::Level log_level = log::Level::info;
  CgroupDriver cgroup_driver = CgroupDriver::cgroupfs;

  std::string source = "embedded defaults";  // where it came from, for Status and logs
};

// A config problem, located: "<file>:<line>:<column>: <key.path>: <what is wrong>".
class ConfigError : public Error {
 public:
  ConfigError(const std::string& file, int line, int column, const std::string& key_path,
              const std::string& problem);
};

// Parses YAML text. `file` is only used in error messages.
Config parse_config(std::string_view yaml, const std::string& file);

// Loads the config file. An explicitly named file must exist; the default one may be absent,
// in which case the embedded defaults are used.
Config load_config(const std::optional<std::string>& explicit_path, const std::string& default_path);

// Checks values that flags may also set (absolute paths, socket path length, ...).
void validate(const Config& config);

const char* cgroup_driver_name(CgroupDriver driver);

// JSON rendering, for Status verbose info and `vpcrid --check-config`.
std::string config_to_json(const Config& config);

}  // namespace vpcri::cri

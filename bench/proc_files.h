// /proc readers the bench tools share (vpcri-bench, vpcri-grpc-floor).
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace vpcri::bench {

// The whole file, or "" if it cannot be read (a process that has just ended).
inline std::string read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The number of a "Key:   1234 kB" line of /proc/<pid>/status or smaps_rollup; 0 if absent.
inline long long field_kb(const std::string& text, const std::string& key) {
  auto at = text.find("\n" + key + ":");
  if (at == std::string::npos) {
    if (text.rfind(key + ":", 0) != 0) return 0;
    at = 0;
  } else {
    at += 1;
  }
  return std::atoll(text.c_str() + at + key.size() + 1);
}

struct ProcMemory {
  long long rss_kb = 0;  // VmRSS
  long long pss_kb = 0;  // Pss of smaps_rollup
};

inline ProcMemory proc_memory(int pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  return {field_kb(read_file(base + "/status"), "VmRSS"), field_kb(read_file(base + "/smaps_rollup"), "Pss")};
}

}  // namespace vpcri::bench

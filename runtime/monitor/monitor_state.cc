#include "runtime/monitor/monitor_state.h"

#include <charconv>

#include "common/error.h"
#include "common/fs.h"

namespace vpcri::runtime {
namespace {

// The file's parsed content, or nullopt if it does not exist.
std::optional<std::map<std::string, std::string>> read_state(const std::string& path) {
  try {
    return parse_state(fs::read_file(path));
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) return std::nullopt;
    throw;
  }
}

template <typename T>
T number(const std::map<std::string, std::string>& kv, const std::string& key, const std::string& path) {
  auto it = kv.find(key);
  if (it == kv.end()) throw Error(Errc::internal, path + " has no \"" + key + "\" entry");
  T value{};
  const std::string& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) {
    throw Error(Errc::internal, path + ": \"" + key + "\" is \"" + s + "\", not a number");
  }
  return value;
}

std::string text(const std::map<std::string, std::string>& kv, const std::string& key) {
  auto it = kv.find(key);
  return it == kv.end() ? std::string() : it->second;
}

}  // namespace

std::map<std::string, std::string> parse_state(const std::string& content) {
  std::map<std::string, std::string> kv;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string::npos) end = content.size();
    std::string line = content.substr(pos, end - pos);
    size_t eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    pos = end + 1;
  }
  return kv;
}

std::optional<ExitStatus> read_exit(const std::string& state_dir) {
  std::string path = state_dir + "/exit";
  auto kv = read_state(path);
  if (!kv) return std::nullopt;
  ExitStatus status;
  status.exit_code = number<int>(*kv, "exit_code", path);
  status.signal = number<int>(*kv, "signal", path);
  status.oom = number<int>(*kv, "oom", path) != 0;
  status.finished_at_ns = number<int64_t>(*kv, "finished_at_ns", path);
  status.finished_at = text(*kv, "finished_at");
  status.reason = text(*kv, "reason");
  status.message = text(*kv, "message");
  return status;
}

std::optional<ProcessRef> read_monitor_ref(const std::string& state_dir) {
  std::string path = state_dir + "/monitor";
  auto kv = read_state(path);
  if (!kv) return std::nullopt;
  return ProcessRef{number<pid_t>(*kv, "pid", path), number<uint64_t>(*kv, "start_time", path)};
}

std::optional<ContainerStart> read_container_start(const std::string& state_dir) {
  std::string path = state_dir + "/pid";
  auto kv = read_state(path);
  if (!kv) return std::nullopt;
  ContainerStart start;
  start.process = {number<pid_t>(*kv, "pid", path), number<uint64_t>(*kv, "start_time", path)};
  start.started_at_ns = number<int64_t>(*kv, "started_at_ns", path);
  start.started_at = text(*kv, "started_at");
  return start;
}

LogReopenResult read_log_reopen(const std::string& state_dir) {
  std::string path = state_dir + "/log-reopen";
  auto kv = read_state(path);
  if (!kv) return {};
  return {number<uint64_t>(*kv, "count", path), text(*kv, "path"), number<int>(*kv, "errno", path), text(*kv, "error")};
}

}  // namespace vpcri::runtime

// Reading and writing cgroup interface files. They are not ordinary files: each write(2) is
// parsed as one value, they must already exist (a missing file = controller not there), and
// temp-file-plus-rename is impossible. Helpers for their few text formats live here too.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpcri::runtime::cgroup {

// Writes `value` to <dir>/<name> in a single write(2). Throws vpcri::Error naming the file and
// the value: failed_precondition if the file does not exist (the controller is not available or
// not enabled for this cgroup), otherwise what the kernel said (EINVAL -> invalid_argument).
void write_cgroup_file(const std::string& dir, std::string_view name, std::string_view value);

std::string read_cgroup_file(const std::string& dir, std::string_view name);
// nullopt when the file does not exist; other errors throw.
std::optional<std::string> read_cgroup_file_if_exists(const std::string& dir, std::string_view name);

// The value of `key` in a flat-keyed file ("key value" per line: memory.stat, cpu.stat,
// memory.events, memory.oom_control), or nullopt when the key is absent.
std::optional<uint64_t> flat_keyed_value(std::string_view text, std::string_view key);

// "123\n" -> 123. Throws Error(internal) naming `what` on anything else.
uint64_t parse_u64(std::string_view text, const std::string& what);

// cgroup.procs / tasks: one pid per line.
std::vector<pid_t> parse_pid_list(std::string_view text, const std::string& what);

// Whitespace-separated words of a file like cgroup.controllers ("cpu io memory\n").
std::vector<std::string> split_words(std::string_view text);

// Child cgroup directories of `dir` (names only), for walking a cgroup's subtree.
std::vector<std::string> child_cgroups(const std::string& dir);

}  // namespace vpcri::runtime::cgroup

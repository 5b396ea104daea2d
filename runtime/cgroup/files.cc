#include "runtime/cgroup/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

#include "common/error.h"
#include "common/fd.h"
#include "common/fs.h"

namespace vpcri::runtime::cgroup {
namespace {

std::string join(const std::string& dir, std::string_view name) { return dir + "/" + std::string(name); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.remove_prefix(1);
  return s;
}

}  // namespace

void write_cgroup_file(const std::string& dir, std::string_view name, std::string_view value) {
  std::string path = join(dir, name);
  // O_TRUNC: a no-op on cgroupfs, but it lets a fake tree of regular files show the last value.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == ENOENT)
      throw Error(Errc::failed_precondition,
                  "cannot write \"" + std::string(value) + "\" to " + path +
                      ": the file does not exist (is its controller available and enabled for this cgroup?)");
    throw_errno("open " + path, err);
  }
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;
    std::string what = "write \"" + std::string(value) + "\" to " + path;
    // The kernel refusing a value means the request asked for something impossible.
    if (err == EINVAL || err == ERANGE || err == EOVERFLOW)
      throw Error(Errc::invalid_argument, what + ": " + std::strerror(err));
    if (err == EBUSY) throw Error(Errc::failed_precondition, what + ": " + std::strerror(err));
    throw_errno(what, err);
  }
  if (static_cast<size_t>(n) != value.size())
    throw Error(Errc::internal, "short write of \"" + std::string(value) + "\" to " + path);
}

std::string read_cgroup_file(const std::string& dir, std::string_view name) { return fs::read_file(join(dir, name)); }

std::optional<std::string> read_cgroup_file_if_exists(const std::string& dir, std::string_view name) {
  try {
    return fs::read_file(join(dir, name));
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) return std::nullopt;
    throw;
  }
}

std::optional<uint64_t> flat_keyed_value(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      std::string_view num = trim(line.substr(key.size() + 1));
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
      if (ec == std::errc() && end == num.data() + num.size()) return v;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

uint64_t parse_u64(std::string_view text, const std::string& what) {
  std::string_view num = trim(text);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (num.empty() || ec != std::errc() || end != num.data() + num.size())
    throw Error(Errc::internal, what + ": expected an unsigned number, got \"" + std::string(num) + "\"");
  return v;
}

std::vector<pid_t> parse_pid_list(std::string_view text, const std::string& what) {
  std::vector<pid_t> pids;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty()) continue;
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
    if (ec != std::errc() || end != line.data() + line.size() || pid <= 0)
      throw Error(Errc::internal, what + ": bad pid line \"" + std::string(line) + "\"");
    pids.push_back(pid);
  }
  return pids;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = text.find_first_not_of(" \t\n", pos);
    if (start == std::string_view::npos) break;
    size_t end = text.find_first_of(" \t\n", start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    pos = end;
  }
  return out;
}

std::vector<std::string> child_cgroups(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) throw_errno("open directory " + dir);
  std::vector<std::string> out;
  while (dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (e->d_type == DT_DIR) out.emplace_back(name);
  }
  return out;
}

}  // namespace vpcri::runtime::cgroup

#include "runtime/cgroup/root.h"

#include <algorithm>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"

namespace vpcri::runtime::cgroup {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '7'; };
    if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t next = s.find(sep, pos);
    out.emplace_back(s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) return out;
    pos = next + 1;
  }
}

bool under(std::string_view path, std::string_view root) {
  if (path.substr(0, root.size()) != root) return false;
  return path.size() == root.size() || path[root.size()] == '/' || root == "/";
}

}  // namespace

const std::vector<std::string>& v1_controllers() {
  static const std::vector<std::string> list = {"cpu",     "cpuacct", "cpuset",  "memory", "pids",
                                                "hugetlb", "blkio",   "devices", "freezer"};
  return list;
}

const std::vector<std::string>& default_v2_controllers() {
  static const std::vector<std::string> list = {"cpu", "cpuset", "io", "memory", "hugetlb", "pids"};
  return list;
}

std::map<std::string, std::string> parse_v1_mounts(std::string_view mountinfo, std::string_view root) {
  std::map<std::string, std::string> mounts;
  std::istringstream lines{std::string(mountinfo)};
  std::string line;
  while (std::getline(lines, line)) {
    // "<id> <parent> <maj:min> <root> <mountpoint> <opts> [optional...] - <fstype> <source> <superopts>"
    auto fields = split(line, ' ');
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || fields.end() - dash < 4) continue;
    if (dash[1] != "cgroup") continue;
    std::string mountpoint = unescape_octal(fields[4]);
    if (!under(mountpoint, root)) continue;
    for (const std::string& opt : split(dash[3], ',')) {
      bool wanted = std::find(v1_controllers().begin(), v1_controllers().end(), opt) != v1_controllers().end();
      // The first mount of a hierarchy wins; bind mounts of it elsewhere add nothing.
      if (wanted) mounts.emplace(opt, mountpoint);
    }
  }
  return mounts;
}

CgroupRoot discover_cgroup_root(const std::string& root, const std::string& mountinfo_path) {
  CgroupRoot out;
  out.mode = detect_cgroup_mode(root);
  switch (out.mode) {
    case CgroupMode::unified:
      out.unified_mount = root;
      return out;
    case CgroupMode::hybrid:
      out.unified_mount = root + "/unified";
      out.v2_controllers.clear();  // hybrid's cgroup2 carries no controllers; it only tracks
      break;
    case CgroupMode::legacy:
      out.v2_controllers.clear();
      break;
  }
  out.v1_mounts = parse_v1_mounts(fs::read_file(mountinfo_path), root);
  if (out.v1_mounts.empty())
    throw Error(Errc::failed_precondition, "no cgroup v1 controller is mounted under " + root + " (per " +
                                               mountinfo_path + "), yet " + root + " is not a cgroup2 mount");
  return out;
}

}  // namespace vpcri::runtime::cgroup

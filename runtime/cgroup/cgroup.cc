#include "runtime/cgroup/cgroup.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <thread>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "runtime/cgroup/apply.h"
#include "runtime/cgroup/device_filter.h"
#include "runtime/cgroup/files.h"
#include "runtime/cgroup/freeze.h"
#include "runtime/cgroup/path.h"

namespace vpcri::runtime::cgroup {
namespace {

void check_root(const CgroupRoot& root) {
  auto bad = [&](const std::string& why) {
    throw Error(Errc::invalid_argument,
                std::string("inconsistent cgroup root for mode ") + cgroup_mode_name(root.mode) + ": " + why);
  };
  if (root.mode != CgroupMode::legacy && root.unified_mount.empty()) bad("no cgroup2 mountpoint");
  if (root.mode != CgroupMode::unified && root.v1_mounts.empty()) bad("no v1 controller mountpoints");
}

// Every pid in `dir` and its descendants, appended to `out`.
void collect_pids(const std::string& dir, std::set<pid_t>& out) {
  auto text = read_cgroup_file_if_exists(dir, "cgroup.procs");
  if (!text) return;  // removed meanwhile
  for (pid_t pid : parse_pid_list(*text, dir + "/cgroup.procs")) out.insert(pid);
  for (const std::string& child : child_cgroups(dir)) collect_pids(dir + "/" + child, out);
}

// rmdir of `dir`'s subtree, deepest first. Returns false when something is still busy.
bool remove_tree(const std::string& dir) {
  std::vector<std::string> children;
  try {
    children = child_cgroups(dir);
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) return true;
    throw;
  }
  bool done = true;
  for (const std::string& child : children) done = remove_tree(dir + "/" + child) && done;
  if (!done) return false;
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
  if (errno == EBUSY) return false;
  throw_errno("remove cgroup " + dir);
}

void signal_pids(const std::set<pid_t>& pids, int sig) {
  for (pid_t pid : pids)
    if (::kill(pid, sig) != 0 && errno != ESRCH) throw_errno("signal " + std::to_string(sig) + " to pid " + std::to_string(pid));
}

// cgroup2 lets a cgroup other than the root hold processes or enable controllers for its
// children, never both (the no-internal-process rule). An exec's cgroup below a container's
// is such a case: the container's cgroup keeps its processes and its own limits, which cover
// the exec's cgroup too, and enables nothing. (Enabling "what the kernel accepts" there would
// take the threaded controllers cpu, cpuset and pids alone, after which the kernel refuses
// every process in the child with EOPNOTSUPP.)
bool holds_processes(const std::string& dir) {
  auto procs = read_cgroup_file_if_exists(dir, "cgroup.procs");
  return procs && !split_words(*procs).empty();
}

void copy_if_empty(const std::string& parent, const std::string& dir, const char* file) {
  auto words = split_words(read_cgroup_file(dir, file));
  if (!words.empty()) return;
  auto inherited = split_words(read_cgroup_file(parent, file));
  if (inherited.empty())
    throw Error(Errc::failed_precondition, "cannot initialise " + dir + "/" + file + ": the parent's is empty too");
  write_cgroup_file(dir, file, inherited[0]);
}

}  // namespace

Cgroup::Cgroup(CgroupRoot root, std::string_view path) : root_(std::move(root)), path_(validate_cgroup_path(path)) {
  check_root(root_);
}

std::string Cgroup::controller_dir(std::string_view controller) const {
  if (unified_mode()) return root_.unified_mount + path_;
  auto it = root_.v1_mounts.find(std::string(controller));
  return it == root_.v1_mounts.end() ? std::string() : it->second + path_;
}

std::string Cgroup::unified_dir() const { return root_.unified_mount.empty() ? std::string() : root_.unified_mount + path_; }

std::map<std::string, std::string> Cgroup::v1_dirs() const {
  std::map<std::string, std::string> dirs;
  for (const auto& [controller, mount] : root_.v1_mounts) dirs.emplace(controller, mount + path_);
  return dirs;
}

std::vector<std::string> Cgroup::directories() const {
  std::vector<std::string> out;
  if (!unified_mode())
    for (const auto& [controller, dir] : v1_dirs())
      if (std::find(out.begin(), out.end(), dir) == out.end()) out.push_back(dir);
  if (!root_.unified_mount.empty()) out.push_back(unified_dir());
  return out;
}

bool Cgroup::exists() const {
  auto dirs = directories();
  return std::all_of(dirs.begin(), dirs.end(), [](const std::string& d) { return fs::exists(d); });
}

void Cgroup::create() const {
  if (unified_mode())
    create_v2();
  else
    create_v1();
}

void Cgroup::create_v1() const {
  for (const std::string& dir : directories()) fs::mkdir_p(dir);
  auto cpuset = root_.v1_mounts.find("cpuset");
  if (cpuset == root_.v1_mounts.end()) return;
  // Walk down from the mountpoint: each level inherits from the one above it.
  std::string parent = cpuset->second;
  size_t pos = 0;
  while (pos < path_.size()) {
    size_t next = path_.find('/', pos + 1);
    if (next == std::string::npos) next = path_.size();
    std::string dir = cpuset->second + path_.substr(0, next);
    copy_if_empty(parent, dir, "cpuset.cpus");
    copy_if_empty(parent, dir, "cpuset.mems");
    parent = dir;
    pos = next;
  }
}

void Cgroup::create_v2() const {
  std::string leaf = unified_dir();
  fs::mkdir_p(leaf);
  if (root_.v2_controllers.empty()) return;
  // Enable on every level above the leaf, starting at the mountpoint: a level can only offer
  // its children what its own parent enabled for it.
  std::string dir = root_.unified_mount;
  size_t pos = 0;
  while (dir != leaf) {
    if (dir != root_.unified_mount && holds_processes(dir)) break;
    auto offered = split_words(read_cgroup_file(dir, "cgroup.controllers"));
    auto enabled = split_words(read_cgroup_file(dir, "cgroup.subtree_control"));
    std::vector<std::string> wanted;
    for (const std::string& c : root_.v2_controllers)
      if (std::find(offered.begin(), offered.end(), c) != offered.end() &&
          std::find(enabled.begin(), enabled.end(), c) == enabled.end())
        wanted.push_back("+" + c);
    if (!wanted.empty()) {
      std::string all;
      for (const std::string& w : wanted) all += (all.empty() ? "" : " ") + w;
      try {
        write_cgroup_file(dir, "cgroup.subtree_control", all);
      } catch (const Error&) {
        // One refused controller fails the whole write; enable what can be enabled.
        for (const std::string& w : wanted) {
          try {
            write_cgroup_file(dir, "cgroup.subtree_control", w);
          } catch (const Error& e) {
            log::warn("cannot enable cgroup controller", {{"cgroup", dir}, {"controller", w.substr(1)}, {"error", e.what()}});
          }
        }
      }
    }
    size_t next = path_.find('/', pos + 1);
    if (next == std::string::npos) next = path_.size();
    dir = root_.unified_mount + path_.substr(0, next);
    pos = next;
  }
}

void Cgroup::apply(const LinuxResources& resources) const {
  if (unified_mode())
    apply_v2(unified_dir(), resources);
  else
    apply_v1(v1_dirs(), resources);
}

void Cgroup::apply_devices(const DevicePolicy& policy) const {
  std::string v1 = unified_mode() ? std::string() : controller_dir("devices");
  std::string v2 = unified_dir();
  if (!v1.empty()) apply_devices_v1(v1, policy);
  if (policy.allow_all) return;
  if (!v2.empty()) DeviceFilter::shared(policy.allowed)->attach(v2);
  if (v1.empty() && v2.empty())
    throw Error(Errc::failed_precondition,
                "cannot restrict the devices of cgroup " + path_ + ": the host has neither a v1 devices hierarchy nor cgroup2");
}

void Cgroup::add_process(pid_t pid) const {
  if (pid <= 0) throw Error(Errc::invalid_argument, "cannot add pid " + std::to_string(pid) + " to cgroup " + path_);
  if (::kill(pid, 0) != 0 && errno == ESRCH)
    throw Error(Errc::not_found, "cannot add pid " + std::to_string(pid) + " to cgroup " + path_ + ": no such process");
  for (const std::string& dir : directories()) {
    try {
      write_cgroup_file(dir, "cgroup.procs", std::to_string(pid));
    } catch (const Error& e) {
      if (::kill(pid, 0) != 0 && errno == ESRCH)
        throw Error(Errc::not_found, "cannot add pid " + std::to_string(pid) + " to cgroup " + path_ + ": it exited");
      throw;
    }
  }
}

std::vector<pid_t> Cgroup::pids() const {
  std::set<pid_t> all;
  for (const std::string& dir : directories()) collect_pids(dir, all);
  return {all.begin(), all.end()};
}

void Cgroup::kill_all(int sig) const {
  if (unified_mode()) {
    std::string dir = unified_dir();
    // A cgroup that is gone, or goes meanwhile, holds nothing to signal: systemd removes a
    // scope's cgroup as soon as its last process has exited.
    try {
      if (sig == SIGKILL && fs::exists(dir + "/cgroup.kill")) {  // write-only: test, don't read
        write_cgroup_file(dir, "cgroup.kill", "1");
        return;
      }
      if (!fs::exists(dir)) return;
      FreezeGuard frozen(FreezeGuard::Kind::v2_core, dir);
      std::set<pid_t> pids;
      collect_pids(dir, pids);
      signal_pids(pids, sig);
    } catch (const Error&) {
      if (fs::exists(dir)) throw;
    }
    return;
  }
  std::string freezer = controller_dir("freezer");
  std::optional<FreezeGuard> frozen;
  if (!freezer.empty()) frozen.emplace(FreezeGuard::Kind::v1_freezer, freezer);
  std::set<pid_t> pids;
  for (const std::string& dir : directories()) collect_pids(dir, pids);
  signal_pids(pids, sig);
  // ~FreezeGuard thaws: v1 delivers the signals only once the tasks run again.
}

void Cgroup::remove(std::chrono::milliseconds wait) const {
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    bool done = true;
    for (const std::string& dir : directories()) done = remove_tree(dir) && done;
    if (done) return;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string inside;
  for (pid_t pid : pids()) inside += (inside.empty() ? "" : ",") + std::to_string(pid);
  throw Error(Errc::failed_precondition,
              "cannot remove cgroup " + path_ + ": still busy after " + std::to_string(wait.count()) + "ms" +
                  (inside.empty() ? std::string(" (no process left; a child cgroup may be in use)")
                                  : " with processes " + inside + "; kill them first (kill_all)"));
}

bool Cgroup::remove_if_empty() const {
  bool removed = true;
  for (const std::string& dir : directories()) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) continue;
    if (errno != EBUSY && errno != ENOTEMPTY) throw_errno("rmdir " + dir);
    removed = false;
  }
  return removed;
}

CgroupStats Cgroup::stats() const { return unified_mode() ? read_stats_v2(unified_dir()) : read_stats_v1(v1_dirs()); }

std::optional<uint64_t> Cgroup::pids_current() const {
  if (unified_mode()) return read_pids_current(unified_dir());
  std::string pids = controller_dir("pids");
  if (pids.empty()) return std::nullopt;
  return read_pids_current(pids);
}

std::optional<uint64_t> Cgroup::oom_kill_count() const {
  if (unified_mode()) return oom_kill_count_v2(unified_dir());
  std::string memory = controller_dir("memory");
  if (memory.empty()) return std::nullopt;
  return oom_kill_count_v1(memory);
}

OomWatch Cgroup::watch_oom() const {
  if (unified_mode()) return OomWatch::v2(unified_dir());
  std::string memory = controller_dir("memory");
  if (memory.empty())
    throw Error(Errc::failed_precondition, "cannot watch cgroup " + path_ + " for OOM: the host has no v1 memory hierarchy");
  return OomWatch::v1(memory);
}

}  // namespace vpcri::runtime::cgroup

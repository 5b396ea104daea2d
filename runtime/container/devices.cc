#include "runtime/container/devices.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace vpcri::runtime::container {
namespace {

bool skipped_dir(const std::string& name) {
  return name == "pts" || name == "shm" || name == "mqueue" || name == "fd" || name == ".lxc" || name == ".udev";
}

void add_node(const std::string& host_path, const std::string& container_path, const std::string& access,
              const struct stat& st, std::vector<DeviceNode>& out) {
  DeviceNode d;
  d.host_path = host_path;
  d.path = container_path;
  d.type = S_ISBLK(st.st_mode) ? 'b' : 'c';
  d.major = ::major(st.st_rdev);
  d.minor = ::minor(st.st_rdev);
  d.mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  d.access = access;
  out.push_back(std::move(d));
}

// Every node under `dir` (not following symlinks), at the same place under `container_dir`.
void add_tree(const std::string& dir, const std::string& container_dir, const std::string& access,
              std::vector<DeviceNode>& out) {
  namespace stdfs = std::filesystem;
  std::error_code ec;
  stdfs::directory_iterator it(dir, ec);
  if (ec) throw Error(Errc::invalid_argument, "device " + dir + ": cannot list it: " + ec.message());
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    std::string host = dir + "/" + name, inside = container_dir + "/" + name;
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) continue;  // gone meanwhile
    if (S_ISDIR(st.st_mode)) {
      if (!skipped_dir(name)) add_tree(host, inside, access, out);
    } else if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && name != "console") {
      add_node(host, inside, access, st, out);
    }
  }
}

}  // namespace

std::vector<DeviceNode> host_devices(const std::string& host_path, const std::string& container_path,
                                     const std::string& access) {
  const std::string inside = container_path.empty() ? host_path : container_path;
  const std::string acc = access.empty() ? "rwm" : access;
  const std::string what = "device " + host_path + " -> " + inside;
  if (host_path.empty() || host_path[0] != '/') throw Error(Errc::invalid_argument, what + ": host_path must be absolute");
  if (inside[0] != '/') throw Error(Errc::invalid_argument, what + ": container_path must be absolute");
  if (acc.find_first_not_of("rwm") != std::string::npos) {
    throw Error(Errc::invalid_argument, what + ": permissions \"" + access + "\" are not a subset of rwm");
  }
  struct stat st {};
  if (::stat(host_path.c_str(), &st) != 0) {
    throw Error(Errc::invalid_argument, what + ": the host path " + (errno == ENOENT ? "does not exist" : "cannot be read: " + std::string(std::strerror(errno))));
  }
  std::vector<DeviceNode> out;
  if (S_ISDIR(st.st_mode)) {
    add_tree(host_path, inside == "/" ? "" : inside, acc, out);
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    add_node(host_path, inside, acc, st, out);
  } else {
    throw Error(Errc::invalid_argument, what + ": the host path is neither a device node nor a directory");
  }
  return out;
}

cgroup::DevicePolicy device_policy(const InitSpec& spec) {
  if (spec.privileged) return {true, {}};
  std::vector<cgroup::DeviceRule> extra;
  for (const DeviceNode& d : spec.devices) extra.push_back({d.type, d.major, d.minor, d.access});
  return cgroup::default_device_policy(extra);
}

}  // namespace vpcri::runtime::container

#include "net/datapath/named_netns.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "net/datapath/netns_file.h"

namespace vpcri::net {
namespace {

constexpr const char* kRunDir = "/run/netns";

// Same as iproute2: /run/netns must be a shared mount point so namespace mounts made here show
// up in other mount namespaces (and mounts made elsewhere show up here).
void prepare_run_dir() {
  fs::mkdir_p(kRunDir, 0755);
  if (::mount("", kRunDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return;
  if (errno != EINVAL) throw_errno(std::string("making ") + kRunDir + " a shared mount");
  // EINVAL: not a mount point yet. Bind it onto itself, then retry.
  if (::mount(kRunDir, kRunDir, "none", MS_BIND | MS_REC, nullptr) != 0) {
    throw_errno(std::string("bind-mounting ") + kRunDir + " onto itself");
  }
  if (::mount("", kRunDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    throw_errno(std::string("making ") + kRunDir + " a shared mount");
  }
}

}  // namespace

NamedNetNs NamedNetNs::create(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    throw Error(Errc::invalid_argument, "invalid network namespace name '" + name + "'");
  }
  prepare_run_dir();
  std::string path = std::string(kRunDir) + "/" + name;
  create_netns_file(path);
  return NamedNetNs(name);
}

std::string NamedNetNs::path() const { return std::string(kRunDir) + "/" + name_; }

NamedNetNs::NamedNetNs(NamedNetNs&& other) noexcept : name_(std::move(other.name_)) { other.name_.clear(); }

NamedNetNs::~NamedNetNs() {
  if (name_.empty()) return;
  std::string p = path();
  // MNT_DETACH: an nsenter still running inside must not make the delete fail.
  if (::umount2(p.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    log::warn("cannot unmount network namespace", {{"path", p}, {"error", std::strerror(errno)}});
  }
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
    log::warn("cannot remove network namespace file", {{"path", p}, {"error", std::strerror(errno)}});
  }
}

}  // namespace vpcri::net

#include "net/datapath/named_netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

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

// Makes a new namespace on a throwaway thread and pins it with a bind mount. The thread exits
// right after, so no thread of ours is left inside it.
void create_and_pin(const std::string& path) {
  int err = 0;
  std::string what;
  std::thread worker([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      err = errno;
      what = "creating a network namespace";
      return;
    }
    if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      err = errno;
      what = "bind-mounting the new network namespace on " + path;
    }
  });
  worker.join();
  if (err != 0) throw_errno(what, err);
}

}  // namespace

NamedNetNs NamedNetNs::create(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    throw Error(Errc::invalid_argument, "invalid network namespace name '" + name + "'");
  }
  prepare_run_dir();
  std::string path = std::string(kRunDir) + "/" + name;
  UniqueFd placeholder(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
  if (!placeholder) throw_errno("creating " + path);
  placeholder.reset();
  try {
    create_and_pin(path);
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
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

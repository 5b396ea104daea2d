#include "net/datapath/netns_file.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "net/datapath/netlink.h"
#include "net/datapath/netns.h"

namespace vpcri::net {
namespace {

// Makes a new namespace on a throwaway thread and pins it with a bind mount. The thread exits
// right after, so no thread of ours is left inside it.
void pin_new_netns(const std::string& path) {
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

void create_netns_file(const std::string& path) {
  UniqueFd placeholder(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
  if (!placeholder) throw_errno("creating " + path);
  placeholder.reset();
  try {
    pin_new_netns(path);
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
}

void create_pod_netns_file(const std::string& path) {
  create_netns_file(path);
  try {
    run_in_netns(NetNs::open(path), [] {
      nl::Socket sk = nl::connect(NETLINK_ROUTE);
      nl::set_link_up(sk.get(), "lo");
    });
  } catch (...) {
    remove_netns_file(path);
    throw;
  }
}

void remove_netns_file(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    throw_errno("unmounting network namespace " + path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("removing network namespace file " + path);
}

}  // namespace vpcri::net

#include "net/datapath/netns_file.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "net/datapath/rtnl_batch.h"
#include "net/datapath/rtnl_messages.h"

namespace vpcri::net {
namespace {

// Makes a new namespace on a throwaway thread and pins it with a bind mount; with `lo_up`, the
// same thread brings its lo up (one netlink request, no second thread). The thread exits right
// after, so no thread of ours is left inside it.
void pin_new_netns(const std::string& path, bool lo_up) {
  std::exception_ptr error;
  std::thread worker([&] {
    try {
      if (::unshare(CLONE_NEWNET) != 0) throw_errno("creating a network namespace");
      if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
        throw_errno("bind-mounting the new network namespace on " + path);
      }
      if (lo_up) {
        rtnl::Socket sk = rtnl::Socket::open();
        rtnl::Batch b;
        rtnl::set_up(b, "lo", "setting lo up in the new network namespace " + path);
        rtnl::check(b, b.send(sk));
      }
    } catch (...) {
      error = std::current_exception();
    }
  });
  worker.join();
  if (error) std::rethrow_exception(error);
}

void create_netns_file(const std::string& path, bool lo_up) {
  UniqueFd placeholder(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
  if (!placeholder) throw_errno("creating " + path);
  placeholder.reset();
  try {
    pin_new_netns(path, lo_up);
  } catch (...) {
    remove_netns_file(path);  // mounted already if only lo failed
    throw;
  }
}

}  // namespace

void create_netns_file(const std::string& path) { create_netns_file(path, false); }

void create_pod_netns_file(const std::string& path) { create_netns_file(path, true); }

void remove_netns_file(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    throw_errno("unmounting network namespace " + path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("removing network namespace file " + path);
}

}  // namespace vpcri::net

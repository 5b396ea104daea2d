#include "runtime/cgroup/oom.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "runtime/cgroup/files.h"

namespace vpcri::runtime::cgroup {

std::optional<uint64_t> oom_kill_count_v1(const std::string& memory_dir) {
  auto text = read_cgroup_file_if_exists(memory_dir, "memory.oom_control");
  if (!text) return std::nullopt;
  auto count = flat_keyed_value(*text, "oom_kill");
  if (!count) return std::nullopt;
  for (const std::string& child : child_cgroups(memory_dir))
    *count += oom_kill_count_v1(memory_dir + "/" + child).value_or(0);
  return count;
}

std::optional<uint64_t> oom_kill_count_v2(const std::string& dir) {
  auto text = read_cgroup_file_if_exists(dir, "memory.events");
  if (!text) return std::nullopt;
  return flat_keyed_value(*text, "oom_kill").value_or(0);
}

OomWatch OomWatch::v1(const std::string& memory_dir) {
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!efd) throw_errno("eventfd for OOM notifications of " + memory_dir);
  std::string control = memory_dir + "/memory.oom_control";
  // Only needed for the registration: the kernel keeps the eventfd, not this one.
  UniqueFd ofd(::open(control.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ofd) throw_errno("open " + control);
  write_cgroup_file(memory_dir, "cgroup.event_control", std::to_string(efd.get()) + " " + std::to_string(ofd.get()));
  return OomWatch(std::move(efd), false);
}

OomWatch OomWatch::v2(const std::string& dir) {
  UniqueFd ifd(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!ifd) throw_errno("inotify_init1 for OOM notifications of " + dir);
  std::string events = dir + "/memory.events";
  if (::inotify_add_watch(ifd.get(), events.c_str(), IN_MODIFY) < 0) throw_errno("watch " + events);
  return OomWatch(std::move(ifd), true);
}

bool OomWatch::consume() {
  bool any = false;
  alignas(inotify_event) char buf[4096];
  for (;;) {
    // eventfd reads exactly 8 bytes (and resets the counter); inotify reads whole events.
    ssize_t n = ::read(fd_.get(), buf, is_inotify_ ? sizeof buf : sizeof(uint64_t));
    if (n > 0) {
      any = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) throw_errno("read OOM notification fd");
    return any;
  }
}

}  // namespace vpcri::runtime::cgroup

// Network namespaces as RAII handles, and ways to run code inside one without leaving a thread
// behind in the wrong namespace (netns membership is per thread, and a stray thread would
// silently send its traffic and netlink requests to the wrong place).
#pragma once

#include <sys/types.h>

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

#include "common/fd.h"

namespace vpcri::net {

// An open handle on a network namespace; keeps the namespace alive while open.
class NetNs {
 public:
  // Opens a namespace file ("/proc/<pid>/ns/net", "/run/netns/NAME", ...). Throws
  // Errc::not_found if missing, Errc::invalid_argument if the file is not a network namespace.
  static NetNs open(const std::string& path);
  static NetNs of_pid(pid_t pid);
  static NetNs named(std::string_view name);  // "/run/netns/<name>", as made by `ip netns add`
  // The namespace of the calling thread (not of the process: threads may differ).
  static NetNs current();
  // Takes its own duplicate of a namespace fd owned by someone else; `description` is for messages.
  static NetNs dup_fd(int fd, std::string description);

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }  // for messages
  // True when both handles refer to the same namespace (same nsfs inode).
  bool same_as(const NetNs& other) const;

 private:
  NetNs(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

// Moves the calling thread into `target` and back into its original namespace on destruction,
// even when unwinding. If returning fails, the process is aborted: carrying on with a thread in
// a foreign namespace would corrupt whatever that thread does next.
class NetNsGuard {
 public:
  explicit NetNsGuard(const NetNs& target);
  ~NetNsGuard();
  NetNsGuard(const NetNsGuard&) = delete;
  NetNsGuard& operator=(const NetNsGuard&) = delete;

 private:
  NetNs original_;
};

// Throws vpcri::Error if `fd` is not an open network namespace file descriptor.
void check_netns_fd(int fd, std::string_view what);

// Runs `fn` inside the namespace on a short-lived dedicated thread and returns its result (or
// rethrows its exception). The caller's thread never changes namespace. Sockets created by `fn`
// stay bound to that namespace after it returns, which is how callers get netlink or TCP sockets
// into a namespace.
template <class F>
auto run_in_netns(const NetNs& ns, F&& fn) -> std::invoke_result_t<F&> {
  using Result = std::invoke_result_t<F&>;
  static_assert(!std::is_reference_v<Result>, "return a value: references would dangle");
  std::exception_ptr error;
  if constexpr (std::is_void_v<Result>) {
    std::thread worker([&] {
      try {
        NetNsGuard enter(ns);
        fn();
      } catch (...) {
        error = std::current_exception();
      }
    });
    worker.join();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<Result> result;
    std::thread worker([&] {
      try {
        NetNsGuard enter(ns);
        result.emplace(fn());
      } catch (...) {
        error = std::current_exception();
      }
    });
    worker.join();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }
}

}  // namespace vpcri::net

// vpcri-init's failures: the errno and the message it reports to vpcri-monitor (or exec_sync)
// through fd 3, e.g. {EACCES, "mount /proc: Permission denied"}.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace vpcri::runtime::container {

class InitError : public std::runtime_error {
 public:
  InitError(int err, const std::string& message) : std::runtime_error(message), err_(err) {}
  int err() const { return err_; }

 private:
  int err_;
};

// Throws InitError{err, "<step>: <strerror(err)>"}.
[[noreturn]] inline void init_failed(const std::string& step, int err = errno) {
  throw InitError(err, step + ": " + std::strerror(err));
}

}  // namespace vpcri::runtime::container

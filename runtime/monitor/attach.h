// vpcrid's end of a container's attach socket (attach_protocol.h): the CRI Attach joins the
// container's stdio, which vpcri-monitor owns, through it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/fd.h"

namespace vpcri::runtime {

class AttachConnection {
 public:
  // Connects to <state_dir>/attach and says whether this attacher sends stdin. Throws
  // failed_precondition when no monitor listens there (the container has ended).
  static AttachConnection connect(const std::string& state_dir, bool with_stdin);

  int fd() const { return fd_.get(); }  // nonblocking; readable: output or EOF

  // One message of output into `buf` (at least kMaxOutput bytes): its size and whether it is
  // stderr; 0 at EOF (the container ended, or the monitor dropped us); -1 with errno EAGAIN when
  // nothing is there yet.
  static constexpr size_t kMaxOutput = 32 * 1024;
  ssize_t read_output(char* buf, size_t size, bool& is_stderr);
  // Bytes for the container's stdin (up to one message's worth); as write(2).
  ssize_t write_stdin(const char* data, size_t size);
  // This attacher's stdin has ended (the container's closes with stdin_once). Once only.
  void close_stdin();
  void resize(uint16_t width, uint16_t height);

 private:
  explicit AttachConnection(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  bool stdin_closed_ = false;
};

}  // namespace vpcri::runtime

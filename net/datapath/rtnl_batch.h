// Raw rtnetlink requests sent as one batch: every message of a Batch goes out in one send() and
// every answer is read back in one pass, so N kernel changes cost one round trip instead of N.
// Each request carries NLM_F_ACK and a step name, so an error still names what failed. The pod
// datapath's hot path uses this (libnl sends and waits one message at a time).
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "net/datapath/netns.h"

namespace vpcri::net::rtnl {

// A NETLINK_ROUTE socket of the netns it was created in (for the life of the socket).
class Socket {
 public:
  static Socket open();                   // in the calling thread's netns
  static Socket open_in(const NetNs& ns);  // in `ns`, from a short-lived thread (run_in_netns)
  int fd() const { return fd_.get(); }
  uint32_t next_seq() { return ++seq_; }

 private:
  explicit Socket(UniqueFd fd, uint32_t seq) : fd_(std::move(fd)), seq_(seq) {}
  UniqueFd fd_;
  uint32_t seq_;
};

// The answer to one request: 0 or a negative errno, the kernel's extended ack message if any,
// and for a GET request the reply message (header included).
struct Answer {
  int error = 0;
  std::string kernel_message;
  std::vector<char> reply;
};

class Batch {
 public:
  // Starts a request; NLM_F_REQUEST and NLM_F_ACK are added to `flags`. `step` names it in errors.
  void begin(uint16_t type, uint16_t flags, const void* header, size_t size, std::string step);
  template <class T>
  void begin(uint16_t type, uint16_t flags, const T& header, std::string step) {
    begin(type, flags, &header, sizeof header, std::move(step));
  }
  void attr(uint16_t type, const void* data, size_t size);
  void attr(uint16_t type, std::string_view text);  // NUL-terminated
  template <class T>
  void attr_value(uint16_t type, const T& value) {
    attr(type, &value, sizeof value);
  }
  size_t nest_begin(uint16_t type);
  void nest_end(size_t at);
  // Appends a fixed-size struct inside the current attribute (a nested ifinfomsg, say).
  void raw(const void* data, size_t size);

  size_t size() const { return steps_.size(); }
  const std::string& step(size_t i) const { return steps_.at(i); }

  // Sends every request at once and returns one Answer per request, in order. Throws only if
  // the socket itself fails; per-request errors are in the answers.
  std::vector<Answer> send(Socket& sk) const;

 private:
  void append(const void* data, size_t size);

  std::vector<char> buf_;
  size_t current_ = 0;
  std::vector<std::string> steps_;
};

// Throws vpcri::Error "<step>: <strerror>[ (<kernel message>)]" for the first failed request
// whose error is not in `tolerated` (e.g. -EEXIST for an idempotent add).
void check(const Batch& batch, const std::vector<Answer>& answers, std::initializer_list<int> tolerated = {});
// True for "it is not there" errors (ENOENT, ESRCH, ENODEV), which idempotent deletes accept.
bool is_not_found(int error);

// Attributes of one rtnetlink reply message whose fixed header is `header_size` bytes.
struct Attrs {
  static Attrs parse(const std::vector<char>& message, size_t header_size);
  static Attrs parse_nested(const void* data, size_t size);
  const void* data(uint16_t type) const;
  size_t len(uint16_t type) const;
  std::optional<uint32_t> u32(uint16_t type) const;
  std::optional<uint8_t> u8(uint16_t type) const;
  std::optional<std::string> str(uint16_t type) const;

  struct Entry {
    uint16_t type;
    const char* data;
    size_t len;
  };
  std::vector<Entry> entries;
};

}  // namespace vpcri::net::rtnl

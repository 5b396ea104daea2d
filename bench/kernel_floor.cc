// vpcri-kernel-floor: what the kernel alone charges for a pod, with no runtime at all, so the
// bench table shows how far a runtime's pod start is from this machine's limit.
//
// One sample, timed from the first syscall to the child's exit status:
//   1. clone3 with new net, ipc, uts, pid and mount namespaces (the child is PID 1 of its own)
//   2. one RTM_NEWLINK: a veth pair whose peer is born in the child's netns as eth0, host end up
//   3. in the child, one batch of netlink messages: lo and eth0 up, an address on eth0, two routes
//      (the gateway on the link, the default route through it)
//   4. the child makes its mount tree private and execs a static `true`; the parent waits
// Run it inside a network namespace of its own (bench/run.sh uses the round's): the host ends of
// the veths are created there, and go with the child's netns when it exits.
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/sched.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_stats.h"

namespace {

using json = nlohmann::json;
using vpcri::bench::Clock;

[[noreturn]] void die(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// A buffer of netlink messages, each with nested attributes, sent in one sendmsg.
class NetlinkBatch {
 public:
  // Starts a message: header plus the fixed part `body` of `size` bytes.
  void begin(uint16_t type, uint16_t flags, const void* body, size_t size) {
    current_ = buf_.size();
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
    h.nlmsg_seq = ++seq_;
    append(&h, sizeof h);
    append(body, size);
    ++messages_;
  }
  void attr(uint16_t type, const void* data, size_t size) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<uint16_t>(sizeof a + size);
    append(&a, sizeof a);
    append(data, size);
  }
  void attr(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  template <class T>
  void attr_value(uint16_t type, T value) { attr(type, &value, sizeof value); }
  size_t nest_begin(uint16_t type) {
    size_t at = buf_.size();
    attr(type, nullptr, 0);
    return at;
  }
  void nest_end(size_t at) { header_at(at)->rta_len = static_cast<uint16_t>(buf_.size() - at); }
  void raw(const void* data, size_t size) { append(data, size); }

  // Sends every message and reads one ACK per message; the first error throws.
  void run(int sock, const char* what) {
    if (::send(sock, buf_.data(), buf_.size(), 0) < 0) die(std::string("netlink send (") + what + ")");
    int acked = 0;
    char reply[8192];
    while (acked < messages_) {
      ssize_t n = ::recv(sock, reply, sizeof reply, 0);
      if (n < 0) die(std::string("netlink recv (") + what + ")");
      const auto size = static_cast<size_t>(n);
      for (size_t off = 0; off + sizeof(nlmsghdr) <= size;) {
        nlmsghdr h;
        std::memcpy(&h, reply + off, sizeof h);
        if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > size) break;
        if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= align(sizeof h) + sizeof(nlmsgerr)) {
          nlmsgerr err;
          std::memcpy(&err, reply + off + align(sizeof h), sizeof err);
          if (err.error != 0) {
            errno = -err.error;
            die(std::string("netlink (") + what + ", message " + std::to_string(h.nlmsg_seq) + ")");
          }
          ++acked;
        }
        off += align(h.nlmsg_len);
      }
    }
    buf_.clear();
    messages_ = 0;
  }

 private:
  static size_t align(size_t n) { return (n + 3) & ~size_t{3}; }  // NLMSG_ALIGN and RTA_ALIGN
  void append(const void* data, size_t size) {
    if (size) buf_.insert(buf_.end(), static_cast<const char*>(data), static_cast<const char*>(data) + size);
    buf_.resize(align(buf_.size()));
    reinterpret_cast<nlmsghdr*>(buf_.data() + current_)->nlmsg_len = static_cast<uint32_t>(buf_.size() - current_);
  }
  rtattr* header_at(size_t at) { return reinterpret_cast<rtattr*>(buf_.data() + at); }

  std::vector<char> buf_;
  size_t current_ = 0;
  uint32_t seq_ = 0;
  int messages_ = 0;
};

int netlink_socket() {
  int s = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) die("socket(NETLINK_ROUTE)");
  return s;
}

// veth `host_name` (up) in our netns, its peer eth0 in `pid`'s: one message.
void create_veth(int sock, const std::string& host_name, pid_t pid) {
  NetlinkBatch b;
  ifinfomsg host{};
  host.ifi_flags = IFF_UP;
  host.ifi_change = IFF_UP;
  b.begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &host, sizeof host);
  b.attr(IFLA_IFNAME, host_name);
  size_t linkinfo = b.nest_begin(IFLA_LINKINFO);
  b.attr(IFLA_INFO_KIND, std::string("veth"));
  size_t data = b.nest_begin(IFLA_INFO_DATA);
  size_t peer = b.nest_begin(VETH_INFO_PEER);
  ifinfomsg pod{};  // not up here: the kernel configures the peer before the pair is linked (ENOTCONN)
  b.raw(&pod, sizeof pod);
  b.attr(IFLA_IFNAME, std::string("eth0"));
  b.attr_value<uint32_t>(IFLA_NET_NS_PID, static_cast<uint32_t>(pid));
  b.nest_end(peer);
  b.nest_end(data);
  b.nest_end(linkinfo);
  b.run(sock, "veth");
}

// In the pod's netns: lo and eth0 up, `ip`/32 on eth0, gateway 169.254.1.1 on the link, default via it.
void configure_pod_network(uint32_t ip) {
  int sock = netlink_socket();
  int eth0 = static_cast<int>(::if_nametoindex("eth0"));
  if (eth0 == 0) die("eth0 in the pod's netns");
  const uint32_t gateway = htonl(0xA9FE0101);  // 169.254.1.1
  NetlinkBatch b;
  for (int index : {1, eth0}) {  // lo, eth0 up
    ifinfomsg link{};
    link.ifi_index = index;
    link.ifi_flags = IFF_UP;
    link.ifi_change = IFF_UP;
    b.begin(RTM_NEWLINK, 0, &link, sizeof link);
  }
  ifaddrmsg addr{};
  addr.ifa_family = AF_INET;
  addr.ifa_prefixlen = 32;
  addr.ifa_index = static_cast<uint32_t>(eth0);
  b.begin(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &addr, sizeof addr);
  b.attr_value(IFA_LOCAL, ip);
  b.attr_value(IFA_ADDRESS, ip);
  for (bool default_route : {false, true}) {
    rtmsg route{};
    route.rtm_family = AF_INET;
    route.rtm_dst_len = default_route ? 0 : 32;
    route.rtm_table = RT_TABLE_MAIN;
    route.rtm_protocol = RTPROT_BOOT;
    route.rtm_scope = default_route ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    route.rtm_type = RTN_UNICAST;
    b.begin(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &route, sizeof route);
    if (default_route) b.attr_value(RTA_GATEWAY, gateway);
    else b.attr_value(RTA_DST, gateway);
    b.attr_value<uint32_t>(RTA_OIF, static_cast<uint32_t>(eth0));
  }
  b.run(sock, "pod address and routes");
  ::close(sock);
}

// The child: waits for its veth, sets its network up, execs `true_path`. Never returns.
[[noreturn]] void child(int go_fd, uint32_t ip, const std::string& true_path) {
  try {
    char c;
    if (::read(go_fd, &c, 1) != 1) die("waiting for the veth");
    configure_pod_network(ip);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("make / private");
    char* const argv[] = {const_cast<char*>(true_path.c_str()), nullptr};
    char* const envp[] = {nullptr};
    ::execve(true_path.c_str(), argv, envp);
    die("exec " + true_path);
  } catch (const std::exception& e) {
    std::cerr << "vpcri-kernel-floor: child: " << e.what() << "\n";
  }
  ::_exit(127);
}

// One pod at the kernel's price; returns its wall time in ms.
double one_pod(int sock, int index, const std::string& true_path) {
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) die("pipe");
  const std::string veth = "kf" + std::to_string(::getpid() % 100000) + "x" + std::to_string(index % 10000);
  const uint32_t ip = htonl(0x0AC80000u | static_cast<uint32_t>(index & 0xffff));  // 10.200.x.y
  auto t0 = Clock::now();
  clone_args args{};
  args.flags = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNS;
  args.exit_signal = SIGCHLD;
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) die("clone3");
  if (pid == 0) {
    ::close(go[1]);
    child(go[0], ip, true_path);
  }
  ::close(go[0]);
  std::string error;
  try {
    create_veth(sock, veth, static_cast<pid_t>(pid));
    if (::write(go[1], "g", 1) != 1) die("start the child");
  } catch (const std::exception& e) {
    error = e.what();
    ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  ::close(go[1]);
  int status = 0;
  while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0)
    if (errno != EINTR) die("waitpid");
  double ms = vpcri::bench::ms_since(t0);
  if (!error.empty()) throw std::runtime_error(error);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the child failed (status " + std::to_string(status) + ")");
  return ms;
}

[[noreturn]] void usage(const std::string& why) {
  if (!why.empty()) std::cerr << "vpcri-kernel-floor: " << why << "\n";
  std::cerr << "usage: vpcri-kernel-floor --true STATIC_TRUE --out FILE.json [--iterations N] [--warmup N]\n"
               "  Times namespaces + veth + address + routes + exec of a static `true`, no runtime.\n"
               "  Run as root inside a network namespace of its own.\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string true_path, out;
  int iterations = 50, warmup = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--true") true_path = value();
      else if (a == "--out") out = value();
      else if (a == "--iterations") iterations = std::stoi(value());
      else if (a == "--warmup") warmup = std::stoi(value());
      else if (a == "-h" || a == "--help") usage("");
      else usage("unknown option " + a);
    } catch (const std::logic_error&) {
      usage(a + ": not a number");
    }
  }
  if (true_path.empty() || out.empty() || iterations < 1 || warmup < 0) usage("--true and --out are required");
  try {
    int sock = netlink_socket();
    std::vector<double> samples;
    for (int i = 0; i < warmup + iterations; ++i) {
      double ms = one_pod(sock, i, true_path);
      if (i >= warmup) samples.push_back(ms);
    }
    ::close(sock);
    json doc{{"kind", "kernel_floor"},
             {"what", "clone3(net, ipc, uts, pid, mount namespaces) + veth (peer born in the netns) + "
                      "lo and eth0 up, an address and 2 routes in one netlink batch + private mount tree + exec of a "
                      "static true, until its exit status"},
             {"warmup", warmup},
             {"summary", vpcri::bench::summarize(samples)},
             {"samples_ms", samples}};
    std::ofstream f(out);
    f << doc.dump(1) << "\n";
    if (!f) throw std::runtime_error("cannot write " + out);
  } catch (const std::exception& e) {
    std::cerr << "vpcri-kernel-floor: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

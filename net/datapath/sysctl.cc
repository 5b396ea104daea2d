#include "net/datapath/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fd.h"
#include "common/fs.h"

namespace vpcri::net {
namespace {

void write_net_sysctl(const std::string& key, std::string_view value) {
  std::string path = "/proc/sys/net/" + key;
  // Not write_file_atomic: sysctl files take a plain write, a rename onto them is impossible.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_errno("opening " + path);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    throw_errno("writing '" + std::string(value) + "' to " + path);
  }
}

void write_interface_sysctl(std::string_view interface, const std::string& name, std::string_view value) {
  if (interface.empty() || interface.size() > 15 || interface.find('/') != std::string_view::npos ||
      interface == "." || interface == "..") {
    throw Error(Errc::invalid_argument, "invalid interface name '" + std::string(interface) + "' for " + name);
  }
  write_net_sysctl("ipv4/conf/" + std::string(interface) + "/" + name, value);
}

}  // namespace

void enable_ipv4_forwarding() { write_net_sysctl("ipv4/ip_forward", "1"); }

void set_rp_filter_loose(std::string_view interface) { write_interface_sysctl(interface, "rp_filter", "2"); }

void set_route_localnet(std::string_view interface) { write_interface_sysctl(interface, "route_localnet", "1"); }

std::string read_net_sysctl(std::string_view key) {
  std::string value = fs::read_file("/proc/sys/net/" + std::string(key));
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

}  // namespace vpcri::net

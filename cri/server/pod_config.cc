#include "cri/server/pod_config.h"

#include "common/error.h"

namespace vpcri::cri {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool is_ipc_sysctl(const std::string& name) {
  return starts_with(name, "kernel.shm") || starts_with(name, "kernel.msg") || name == "kernel.sem" ||
         starts_with(name, "fs.mqueue.");
}

void check_name(const std::string& name) {
  auto bad = [&](const std::string& why) {
    throw Error(Errc::invalid_argument, "sysctl \"" + name + "\" is invalid: " + why);
  };
  if (name.empty() || name.size() > 256) bad("empty or too long");
  std::string component;
  for (size_t i = 0; i <= name.size(); ++i) {
    const char c = i < name.size() ? name[i] : '.';
    if (c == '.' || c == '/') {
      if (component.empty() || component == "..") bad("empty or \"..\" component");
      component.clear();
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) bad("only letters, digits, '_', '-', '.' and '/' are allowed in a name");
    component += c;
  }
}

void check_value(const std::string& name, const std::string& value) {
  if (value.size() > 4096) throw Error(Errc::invalid_argument, "sysctl " + name + ": value is too long");
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f || c == '=' || c == '+' || c == ';') {
      throw Error(Errc::invalid_argument, "sysctl " + name +
                                              ": value contains a newline, control character or separator "
                                              "('=', '+', ';'), which could set another sysctl");
    }
  }
}

void check_dns_entry(const char* what, const std::string& entry) {
  if (entry.empty()) throw Error(Errc::invalid_argument, std::string("DNS ") + what + " entry is empty");
  for (char c : entry) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      throw Error(Errc::invalid_argument, std::string("DNS ") + what + " \"" + entry +
                                              "\" contains whitespace or control characters");
    }
  }
}

}  // namespace

void validate_sysctls(const std::map<std::string, std::string>& sysctls, bool host_network, bool host_ipc) {
  for (const auto& [raw_name, value] : sysctls) {
    check_name(raw_name);
    std::string name = raw_name;
    // "net/ipv4/ip_forward" is the same sysctl as "net.ipv4.ip_forward".
    if (name.find('/') != std::string::npos && name.find('.') == std::string::npos) {
      for (char& c : name) c = c == '/' ? '.' : c;
    }
    check_value(raw_name, value);
    if (starts_with(name, "net.")) {
      if (host_network) {
        throw Error(Errc::invalid_argument,
                    "sysctl " + raw_name + " is not allowed: the pod uses the host's network namespace");
      }
    } else if (is_ipc_sysctl(name)) {
      if (host_ipc) {
        throw Error(Errc::invalid_argument, "sysctl " + raw_name + " is not allowed: the pod uses the host's IPC namespace");
      }
    } else {
      throw Error(Errc::invalid_argument, "sysctl " + raw_name +
                                              " is not allowed: only namespaced sysctls (kernel.shm*, kernel.msg*, "
                                              "kernel.sem, fs.mqueue.*, net.*) may be set for a pod");
    }
  }
}

std::string hosts_file(const std::string& hostname) {
  std::string out =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  if (!hostname.empty()) out += "127.0.1.1\t" + hostname + "\n";
  return out;
}

std::string resolv_conf(const std::vector<std::string>& servers, const std::vector<std::string>& searches,
                        const std::vector<std::string>& options) {
  std::string out;
  for (const auto& s : servers) {
    check_dns_entry("server", s);
    out += "nameserver " + s + "\n";
  }
  if (!searches.empty()) {
    out += "search";
    for (const auto& s : searches) {
      check_dns_entry("search", s);
      out += " " + s;
    }
    out += "\n";
  }
  if (!options.empty()) {
    out += "options";
    for (const auto& o : options) {
      check_dns_entry("option", o);
      out += " " + o;
    }
    out += "\n";
  }
  return out;
}

}  // namespace vpcri::cri

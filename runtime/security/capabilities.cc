#include "runtime/security/capabilities.h"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>

#include "common/error.h"
#include "common/fs.h"

namespace vpcri::runtime::security {
namespace {

struct CapFree {
  void operator()(void* p) const { cap_free(p); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;
using CapName = std::unique_ptr<char, CapFree>;

// The kernel's CAP_LAST_CAP: capabilities past it cannot be given, and everything up to it is
// dropped from the bounding set unless kept.
cap_value_t last_cap() {
  static const cap_value_t last = [] {
    try {
      return static_cast<cap_value_t>(std::stoi(fs::read_file("/proc/sys/kernel/cap_last_cap")));
    } catch (const std::logic_error&) {  // std::stoi on garbage: not a kernel we can run on
      throw Error(Errc::internal, "/proc/sys/kernel/cap_last_cap: not a number");
    }
  }();
  return last;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// "chown", "CAP_CHOWN", "cap_Chown" -> "CAP_CHOWN".
std::string normalize(const std::string& name) {
  std::string n = upper(name);
  return n.rfind("CAP_", 0) == 0 ? n : "CAP_" + n;
}

bool is_all(const std::string& name) { return upper(name) == "ALL"; }

// The value of a normalized name; Error(invalid_argument) if libcap or the kernel does not know it.
cap_value_t value_of(const std::string& normalized) {
  cap_value_t value = 0;
  std::string lower = normalized;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (cap_from_name(lower.c_str(), &value) != 0)
    throw Error(Errc::invalid_argument, "unknown capability \"" + normalized + "\"");
  if (value > last_cap())
    throw Error(Errc::invalid_argument,
                "capability \"" + normalized + "\" is not supported by the running kernel");
  return value;
}

}  // namespace

const std::vector<std::string>& default_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE",
  };
  return caps;
}

std::vector<std::string> all_capabilities() {
  std::vector<std::string> caps;
  for (cap_value_t v = 0; v <= last_cap(); ++v) {
    CapName name(cap_to_name(v));
    if (!name) throw_errno("cap_to_name");
    std::string n = upper(name.get());
    // libcap older than the kernel names new capabilities by number: nobody can ask for them.
    if (n.rfind("CAP_", 0) == 0) caps.push_back(n);
  }
  return caps;
}

// containerd's order (pkg/cri WithCapabilities): add ALL, drop ALL, then the single adds and drops,
// so that "drop ALL, add NET_ADMIN" is just NET_ADMIN. Privileged containers get every capability
// and add/drop do not apply, as in containerd; the names are still checked.
std::vector<std::string> resolve_capabilities(const std::vector<std::string>& add,
                                              const std::vector<std::string>& drop, bool privileged) {
  auto all = all_capabilities();
  auto has_all = [](const std::vector<std::string>& names) {
    return std::any_of(names.begin(), names.end(), is_all);
  };
  auto checked = [](const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& n : names) {
      if (is_all(n)) continue;
      out.push_back(normalize(n));
      value_of(out.back());
    }
    return out;
  };
  auto adds = checked(add);
  auto drops = checked(drop);

  std::set<std::string> caps;
  if (privileged) {
    caps.insert(all.begin(), all.end());
  } else {
    caps.insert(default_capabilities().begin(), default_capabilities().end());
    if (has_all(add)) caps.insert(all.begin(), all.end());
    if (has_all(drop)) caps.clear();
    caps.insert(adds.begin(), adds.end());
    for (const auto& d : drops) caps.erase(d);
  }
  return {caps.begin(), caps.end()};
}

void apply_capabilities(const std::vector<std::string>& caps, bool ambient) {
  CapPtr current(cap_get_proc());
  if (!current) throw_errno("cap_get_proc");

  // A capability missing from our own bounding set can be given by nobody: it is left out rather
  // than failing every privileged container on a host (or in a sandbox) that lacks it.
  std::vector<cap_value_t> keep;
  for (const auto& name : caps) {
    cap_value_t v = value_of(normalize(name));
    if (cap_get_bound(v) == 1) keep.push_back(v);
  }

  // After setuid with keep-caps the effective set is empty: raise it to the permitted set, so
  // that dropping from the bounding set (CAP_SETPCAP) and capset work.
  CapPtr raise(cap_dup(current.get()));
  if (!raise) throw_errno("cap_dup");
  for (cap_value_t v = 0; v <= last_cap(); ++v) {
    cap_flag_value_t permitted = CAP_CLEAR;
    if (cap_get_flag(current.get(), v, CAP_PERMITTED, &permitted) != 0) throw_errno("cap_get_flag");
    if (cap_set_flag(raise.get(), CAP_EFFECTIVE, 1, &v, permitted) != 0) throw_errno("cap_set_flag");
  }
  if (cap_set_proc(raise.get()) != 0) throw_errno("cap_set_proc (raise effective)");

  for (cap_value_t v = 0; v <= last_cap(); ++v) {
    if (std::find(keep.begin(), keep.end(), v) != keep.end() || cap_get_bound(v) != 1) continue;
    if (cap_drop_bound(v) != 0) {
      CapName name(cap_to_name(v));
      throw_errno(std::string("dropping ") + (name ? name.get() : "?") + " from the bounding set");
    }
  }

  CapPtr final_caps(cap_init());
  if (!final_caps) throw_errno("cap_init");
  if (!keep.empty()) {
    int n = static_cast<int>(keep.size());
    for (cap_flag_t flag : {CAP_PERMITTED, CAP_EFFECTIVE, CAP_INHERITABLE})
      if (cap_set_flag(final_caps.get(), flag, n, keep.data(), CAP_SET) != 0) throw_errno("cap_set_flag");
  }
  if (cap_set_proc(final_caps.get()) != 0) throw_errno("cap_set_proc");

  if (cap_reset_ambient() != 0) throw_errno("cap_reset_ambient");
  if (ambient)
    for (cap_value_t v : keep)
      if (cap_set_ambient(v, CAP_SET) != 0) throw_errno("raising the ambient capabilities");
}

}  // namespace vpcri::runtime::security

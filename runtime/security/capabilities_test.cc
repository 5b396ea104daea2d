#include "runtime/security/capabilities.h"

#include <doctest/doctest.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "common/error.h"
#include "runtime/security/test_support.h"

using namespace vpcri::runtime::security;
using vpcri::Errc;
using vpcri::Error;
using vpcri::runtime::security::testing::in_child;

namespace {

// The "Cap<set>:" mask of /proc/self/status.
uint64_t cap_mask(const std::string& set) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Cap" + set + ":", 0) == 0) return std::stoull(line.substr(line.find(':') + 1), nullptr, 16);
  return UINT64_MAX;
}

int last_cap() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int n = -1;
  in >> n;
  return n;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<std::string> without(std::vector<std::string> v, const std::string& s) {
  v.erase(std::remove(v.begin(), v.end(), s), v.end());
  return v;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

constexpr uint64_t kChownKill = (1ULL << 0) | (1ULL << 5);  // CAP_CHOWN, CAP_KILL

}  // namespace

TEST_CASE("the default set is containerd's 14 capabilities") {
  const auto& d = default_capabilities();
  CHECK(d.size() == 14);
  for (const char* c : {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                        "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"})
    CHECK(has(d, c));
}

TEST_CASE("all_capabilities lists the running kernel's capabilities by name") {
  auto all = all_capabilities();
  REQUIRE(last_cap() > 30);
  CHECK(all.size() == static_cast<size_t>(last_cap() + 1));
  CHECK(all.front() == "CAP_CHOWN");
  CHECK(has(all, "CAP_SYS_ADMIN"));
  CHECK(has(all, "CAP_AUDIT_READ"));  // 37: every kernel this runs on has it
  for (const auto& c : all) CHECK(c.rfind("CAP_", 0) == 0);
}

TEST_CASE("resolve: default, ALL, drop ALL then add, privileged") {
  auto all = sorted(all_capabilities());
  CHECK(resolve_capabilities({}, {}, false) == sorted(default_capabilities()));
  CHECK(resolve_capabilities({"ALL"}, {}, false) == all);
  CHECK(resolve_capabilities({"all"}, {"CHOWN"}, false) == without(all, "CAP_CHOWN"));
  CHECK(resolve_capabilities({"NET_ADMIN"}, {"ALL"}, false) == std::vector<std::string>{"CAP_NET_ADMIN"});
  CHECK(resolve_capabilities({}, {"ALL"}, false).empty());
  CHECK(resolve_capabilities({}, {}, true) == all);
  // As in containerd, add/drop do not narrow a privileged container.
  CHECK(resolve_capabilities({}, {"ALL"}, true) == all);
}

TEST_CASE("resolve: names with or without CAP_, any case; sorted and unique") {
  auto caps = resolve_capabilities({"net_admin", "CAP_SYS_TIME", "cap_Sys_Ptrace", "NET_ADMIN"},
                                   {"chown", "Cap_Kill", "CAP_NET_RAW"}, false);
  CHECK(caps == sorted(caps));
  CHECK(std::adjacent_find(caps.begin(), caps.end()) == caps.end());
  CHECK(has(caps, "CAP_NET_ADMIN"));
  CHECK(has(caps, "CAP_SYS_TIME"));
  CHECK(has(caps, "CAP_SYS_PTRACE"));
  CHECK_FALSE(has(caps, "CAP_CHOWN"));
  CHECK_FALSE(has(caps, "CAP_KILL"));
  CHECK_FALSE(has(caps, "CAP_NET_RAW"));
  CHECK(caps.size() == default_capabilities().size() + 3 - 3);
}

TEST_CASE("resolve: an unknown name is invalid_argument naming it") {
  for (auto [add, drop] : {std::pair<std::vector<std::string>, std::vector<std::string>>{{"CAP_FOO"}, {}},
                           {{}, {"FOO"}},
                           {{"ALL", "foo"}, {}},
                           {{""}, {}},
                           {{"CAP_CHOWN_X"}, {}},
                           {{"12"}, {}}}) {
    std::string bad = !add.empty() ? add.back() : drop.back();
    CAPTURE(bad);
    try {
      resolve_capabilities(add, drop, false);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_argument);
      CHECK(std::string(e.what()).find("unknown capability") != std::string::npos);
    }
  }
  try {
    resolve_capabilities({}, {"cap_bogus"}, true);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("CAP_BOGUS") != std::string::npos);
  }
}

TEST_CASE("apply: bounding, effective, permitted, inheritable are exactly the set; no ambient") {
  int code = in_child([] {
    apply_capabilities({"CAP_CHOWN", "CAP_KILL"}, false);
    if (cap_mask("Bnd") != kChownKill) return 1;
    if (cap_mask("Eff") != kChownKill) return 2;
    if (cap_mask("Prm") != kChownKill) return 3;
    if (cap_mask("Inh") != kChownKill) return 4;
    if (cap_mask("Amb") != 0) return 5;
    // Really gone: CAP_SYS_ADMIN is needed for sethostname.
    if (::sethostname("x", 1) == 0 || errno != EPERM) return 6;
    return 0;
  });
  CHECK(code == 0);
}

TEST_CASE("apply: the ambient set when asked") {
  CHECK(in_child([] {
          apply_capabilities({"CAP_CHOWN", "CAP_KILL"}, true);
          return cap_mask("Amb") == kChownKill ? 0 : 1;
        }) == 0);
}

TEST_CASE("apply: after setuid with keep-caps, a non-root process keeps the set across exec") {
  int code = in_child([] {
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return 1;
    if (::setresgid(1000, 1000, 1000) != 0 || ::setresuid(1000, 1000, 1000) != 0) return 2;
    if (cap_mask("Eff") != 0) return 3;  // setuid cleared it
    apply_capabilities({"CAP_KILL"}, true);
    // A non-root process's effective set after exec comes from the ambient set.
    ::execl("/bin/sh", "sh", "-c", "grep -q '^CapEff:.*0000000000000020$' /proc/self/status", nullptr);
    return 4;
  });
  CHECK(code == 0);
}

TEST_CASE("apply: an unknown name throws before anything changes") {
  const uint64_t bnd = cap_mask("Bnd"), eff = cap_mask("Eff");
  CHECK(in_child([&] {
          try {
            apply_capabilities({"CAP_CHOWN", "CAP_NOPE"}, false);
          } catch (const Error& e) {
            if (e.code() != Errc::invalid_argument) return 2;
            return cap_mask("Bnd") == bnd && cap_mask("Eff") == eff ? 0 : 3;
          }
          return 1;
        }) == 0);
}

TEST_CASE("apply: every capability (privileged) is what our own bounding set allows") {
  const uint64_t bnd = cap_mask("Bnd");
  CHECK(in_child([&] {
          apply_capabilities(all_capabilities(), true);
          return cap_mask("Eff") == bnd && cap_mask("Bnd") == bnd && cap_mask("Amb") == bnd ? 0 : 1;
        }) == 0);
}

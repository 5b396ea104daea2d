#include "runtime/security/seccomp.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "runtime/security/capabilities.h"
#include "runtime/security/test_support.h"

using namespace vpcri::runtime::security;
using vpcri::Errc;
using vpcri::Error;
using vpcri::runtime::security::testing::in_child;

namespace {

// A fresh directory under /tmp, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/vpcri-seccomp-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// The errno of a raw syscall that is expected to fail, 0 if it succeeded.
int errno_of(long rc) { return rc < 0 ? errno : 0; }

// What load_profile_json says about `json`, in a child in case it loads after all.
int load_error_in_child(const std::string& json, const std::string& expected) {
  return in_child([&] {
    try {
      load_profile_json(json, {});
    } catch (const Error& e) {
      if (e.code() != Errc::invalid_argument) return 2;
      return std::string(e.what()).find(expected) != std::string::npos ? 0 : 3;
    }
    return 1;
  });
}

std::string deny(const std::string& name, const std::string& extra = "") {
  return R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [")" + name +
         R"("], "action": "SCMP_ACT_ERRNO")" + extra + "}]}";
}

}  // namespace

TEST_CASE("a profile denying mkdir with ERRNO: mkdir fails with EPERM, getpid works") {
  TempDir dir;
  std::string target = dir.path + "/x";
  std::string profile = deny("mkdir\", \"mkdirat");
  CHECK(check_profile_json(profile) == "");
  int code = in_child([&] {
    load_profile_json(profile, {});
    if (errno_of(::syscall(SYS_mkdir, target.c_str(), 0755)) != EPERM) return 1;
    if (errno_of(::syscall(SYS_mkdirat, AT_FDCWD, target.c_str(), 0755)) != EPERM) return 2;
    if (::syscall(SYS_getpid) != ::getpid()) return 3;
    return 0;
  });
  CHECK(code == 0);
  CHECK_FALSE(std::filesystem::exists(target));
}

TEST_CASE("errnoRet and defaultErrnoRet are what the syscall returns") {
  CHECK(in_child([] {
          load_profile_json(deny("getppid", R"(, "errnoRet": 30)"), {});
          return errno_of(::syscall(SYS_getppid)) == EROFS ? 0 : 1;
        }) == 0);
  CHECK(in_child([] {
          load_profile_json(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                                "syscalls": [{"name": "exit_group", "action": "SCMP_ACT_ALLOW"}]})",
                            {});
          return errno_of(::syscall(SYS_getppid)) == ENOSYS ? 0 : 1;
        }) == 0);
}

TEST_CASE("argument conditions: EQ in an allowlist, MASKED_EQ, and AND of two arguments") {
  // Nothing but exit_group, and personality with arg0 == 0.
  int code = in_child([] {
    load_profile_json(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["exit_group"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}]})",
                      {});
    if (::syscall(SYS_personality, 0) < 0) return 1;
    if (errno_of(::syscall(SYS_personality, 0xffffffffUL)) != EPERM) return 2;
    if (errno_of(::syscall(SYS_getppid)) != EPERM) return 3;
    return 0;
  });
  CHECK(code == 0);

  code = in_child([] {
    load_profile_json(deny("personality", R"(, "errnoRet": 33,
        "args": [{"index": 0, "value": 65280, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}])"),
                      {});
    if (errno_of(::syscall(SYS_personality, 0x0800UL)) != EDOM) return 1;
    if (errno_of(::syscall(SYS_personality, 0x10800UL)) != EDOM) return 2;  // bits outside the mask
    if (::syscall(SYS_personality, 0xffffffffUL) < 0) return 3;          // 0xff00 != 0x0800
    return 0;
  });
  CHECK(code == 0);

  code = in_child([] {
    load_profile_json(deny("kill", R"(, "args": [
        {"index": 0, "value": 1000000000, "op": "SCMP_CMP_GT"},
        {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}])"),
                      {});
    // Both conditions: denied. Only one: the kernel answers (ESRCH, or success for our pid).
    if (errno_of(::syscall(SYS_kill, 2000000000, 0)) != EPERM) return 1;
    if (errno_of(::syscall(SYS_kill, 2000000000, SIGCONT)) != ESRCH) return 2;
    if (errno_of(::syscall(SYS_kill, ::getpid(), 0)) != 0) return 3;
    return 0;
  });
  CHECK(code == 0);
}

TEST_CASE("includes and excludes by capability and architecture") {
  const std::string profile = R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["getuid"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["sys_admin"]}},
      {"names": ["getgid"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["s390x"]}},
      {"names": ["getegid"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["amd64", "arm64"]}},
      {"names": ["geteuid"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "99.0"}}]})";
  auto run = [&](std::vector<std::string> caps) {
    return in_child([&] {
      load_profile_json(profile, caps);
      int r = 0;
      if (errno_of(::syscall(SYS_getppid)) == EPERM) r |= 1;
      if (errno_of(::syscall(SYS_getuid)) == EPERM) r |= 2;
      if (errno_of(::syscall(SYS_getgid)) == EPERM) r |= 4;
      if (errno_of(::syscall(SYS_getegid)) == EPERM) r |= 8;
      if (errno_of(::syscall(SYS_geteuid)) == EPERM) r |= 16;
      return r;
    });
  };
  CHECK(run({}) == (2 | 8));
  CHECK(run({"CAP_SYS_ADMIN"}) == (1 | 8));
}

TEST_CASE("unknown syscall names are skipped; the others still apply") {
  std::string profile = deny("no_such_syscall\", \"getppid");
  CHECK(check_profile_json(profile) == "");
  CHECK(in_child([&] {
          load_profile_json(profile, {});
          return errno_of(::syscall(SYS_getppid)) == EPERM ? 0 : 1;
        }) == 0);
}

TEST_CASE("kill and trap actions end the process with SIGSYS") {
  for (const char* action : {"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_TRAP"}) {
    CAPTURE(action);
    std::string profile = std::string(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": ")") +
                          action + R"("}]})";
    CHECK(in_child([&] {
            load_profile_json(profile, {});
            ::syscall(SYS_getppid);
            return 0;
          }) == 128 + SIGSYS);
  }
  CHECK(in_child([] {
          load_profile_json(deny("getppid").replace(deny("getppid").find("SCMP_ACT_ERRNO"), 14, "SCMP_ACT_LOG"), {});
          return ::syscall(SYS_getppid) > 0 ? 0 : 1;
        }) == 0);
}

TEST_CASE("malformed profiles: a clear error from check_profile_json and load_profile_json") {
  struct Case {
    std::string json, expected;
  } cases[] = {
      {"{", "not valid JSON"},
      {"[]", "not a JSON object"},
      {R"({"syscalls": []})", "no defaultAction"},
      {R"({"defaultAction": "SCMP_ACT_FOO"})", "unknown action \"SCMP_ACT_FOO\""},
      {deny("getppid").replace(deny("getppid").find("SCMP_ACT_ERRNO"), 14, "SCMP_ACT_NOTIFY"), "SCMP_ACT_NOTIFY is not supported"},
      {deny("getppid", R"(, "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}])"), "unknown op \"SCMP_CMP_ABOUT\""},
      {deny("getppid", R"(, "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}])"), "out of range"},
      {deny("getppid", R"(, "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}])"), "value must be a non-negative integer"},
      {deny("getppid", R"(, "errnoRet": 70000)"), "is not an errno"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]})", "unknown architecture \"SCMP_ARCH_Z80\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]})", "syscalls[0] names no syscall"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "getppid", "action": "SCMP_ACT_ERRNO"}]})", "syscalls[0].names must be an array"},
      {deny("getppid", R"(, "includes": {"minKernel": "new"})"), "is not a kernel version"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.json);
    std::string err = check_profile_json(c.json);
    CHECK(err.find(c.expected) != std::string::npos);
    CHECK(err.rfind("seccomp profile: ", 0) == 0);
    CHECK(load_error_in_child(c.json, c.expected) == 0);
  }
}

TEST_CASE("without no_new_privs, loading needs CAP_SYS_ADMIN; with it, it does not") {
  int code = in_child([] {
    apply_capabilities(default_capabilities(), false);
    try {
      load_profile_json(deny("getppid"), default_capabilities());
      return 1;
    } catch (const Error& e) {
      if (e.code() != Errc::failed_precondition) return 2;
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 3;
    load_profile_json(deny("getppid"), default_capabilities());
    return errno_of(::syscall(SYS_getppid)) == EPERM ? 0 : 4;
  });
  CHECK(code == 0);
}

TEST_CASE("the RuntimeDefault profile is valid and has upstream's shape") {
  CHECK(check_profile_json(runtime_default_profile_json()) == "");
  auto doc = nlohmann::json::parse(runtime_default_profile_json());
  CHECK(doc["defaultAction"] == "SCMP_ACT_ERRNO");
  CHECK(doc["defaultErrnoRet"] == 1);
  const auto& allow = doc["syscalls"][0]["names"];
  CHECK(allow.size() == 352);
  auto allowed = [&](const char* n) { return std::find(allow.begin(), allow.end(), n) != allow.end(); };
  for (const char* n : {"read", "openat", "execve", "fork", "getpid"}) {
    CAPTURE(n);
    CHECK(allowed(n));
  }
  // Conditional (args or capabilities) or never allowed (io_uring_*, keyrings).
  for (const char* n : {"clone", "clone3", "mount", "unshare", "ptrace", "bpf", "personality", "socket",
                        "io_uring_setup", "keyctl", "add_key", "request_key"}) {
    CAPTURE(n);
    CHECK_FALSE(allowed(n));
  }
}

TEST_CASE("RuntimeDefault in a child with the default capabilities") {
  TempDir dir;
  int code = in_child([&] {
    auto caps = resolve_capabilities({}, {}, false);
    // As vpcri-init does without no_new_privs: load while CAP_SYS_ADMIN is still held, then drop.
    load_profile_json(runtime_default_profile_json(), caps);
    apply_capabilities(caps, false);

    int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    char buf[64];
    if (fd < 0 || ::read(fd, buf, sizeof buf) <= 0) return 1;
    ::close(fd);
    if (::mkdir((dir.path + "/d").c_str(), 0755) != 0) return 2;

    pid_t pid = ::fork();  // clone without namespace flags
    if (pid < 0) return 3;
    if (pid == 0) {
      ::execl("/bin/true", "true", nullptr);
      ::_exit(127);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
    // glibc's posix_spawn tries clone3 first: ENOSYS makes it fall back to clone.
    char* argv[] = {const_cast<char*>("true"), nullptr};
    if (::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) return 5;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 6;

    if (::unshare(CLONE_NEWNS) == 0 || errno != EPERM) return 7;
    if (errno_of(::syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0)) != EPERM) return 8;
    clone_args args{};
    args.exit_signal = SIGCHLD;
    if (errno_of(::syscall(SYS_clone3, &args, sizeof args)) != ENOSYS) return 9;
    if (errno_of(::syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0)) != EPERM) return 10;
    if (errno_of(::syscall(SYS_add_key, "user", "vpcri", "x", 1, -3)) != EPERM) return 11;
    if (::mount("none", dir.path.c_str(), "tmpfs", 0, nullptr) == 0 || errno != EPERM) return 12;
    if (::personality(0xffffffff) < 0) return 13;
    if (errno_of(::syscall(SYS_personality, 0x0006UL)) != EPERM) return 14;  // PER_BSD
    if (::socket(AF_VSOCK, SOCK_STREAM, 0) >= 0 || errno != EPERM) return 15;
    int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) return 16;
    ::close(s);
    if (errno_of(::syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0)) != 0) return 17;  // kernel >= 4.8
    if (errno_of(::syscall(SYS_chroot, "/")) != 0) return 18;  // CAP_SYS_CHROOT is a default
    return 0;
  });
  CHECK(code == 0);
}

TEST_CASE("RuntimeDefault with CAP_SYS_ADMIN allows namespaces and clone3") {
  int code = in_child([] {
    auto caps = resolve_capabilities({"SYS_ADMIN"}, {}, false);
    load_profile_json(runtime_default_profile_json(), caps);
    apply_capabilities(caps, false);
    if (::unshare(CLONE_NEWNS) != 0) return 1;
    // Allowed through to the kernel, which rejects the bad size.
    if (errno_of(::syscall(SYS_clone3, nullptr, 0)) != EINVAL) return 2;
    if (errno_of(::syscall(SYS_keyctl, 0, -3, 0)) != EPERM) return 3;
    return 0;
  });
  CHECK(code == 0);
}

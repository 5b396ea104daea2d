// Real containers: busybox images under an overlay rootfs, launched through vpcri-monitor and
// vpcri-init, and ExecSync into them. Needs root.
#include "runtime/container/launch.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/stat.h>

#include <fstream>

#include "runtime/container/pod_namespaces.h"
#include "runtime/container/test_support.h"
#include "runtime/security/capabilities.h"
#include "runtime/security/seccomp.h"
#include "runtime/security/test_support.h"

using namespace vpcri::runtime;
using namespace vpcri::runtime::container;
using namespace vpcri::runtime::container::test;

namespace {

const std::vector<std::string> kMasked = {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/acpi",
                                          "/sys/firmware"};
const std::vector<std::string> kReadonly = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

InitSpec spec_for(const std::string& rootfs, const std::string& script) {
  InitSpec spec;
  spec.process.args = {"sh", "-c", script};
  spec.process.env = {"PATH=/bin", "HOME=/root"};
  spec.process.capabilities = security::default_capabilities();
  spec.rootfs = rootfs;
  spec.hostname = "test-host";
  spec.masked_paths = kMasked;
  spec.readonly_paths = kReadonly;
  spec.pid.mode = NamespaceSpec::Mode::fresh;
  return spec;
}

ExitStatus wait_exit(const MonitorHandle& h) {
  auto status = h.wait(20s);
  REQUIRE_MESSAGE(status.has_value(), "container in " << h.state_dir() << " did not exit");
  return *status;
}

// Runs `script` in a container made from `c` and returns its stdout (the exit code must be 0).
std::string run(Container& c, InitSpec spec) {
  Reaper reaper;
  MonitorHandle h = launch(binaries(), c.state_dir, c.log_path, spec, "");
  reaper.add(h);
  ExitStatus status = wait_exit(h);
  CHECK_MESSAGE(status.exit_code == 0, "stderr: " << log_text(c.log_path, "stderr"));
  return log_text(c.log_path);
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// "CapEff:\t00000000a80425fb" → the hex value of a line of /proc/<pid>/status.
std::string status_field(const std::string& status, const std::string& key) {
  size_t at = status.find(key + ":\t");
  if (at == std::string::npos) return "";
  size_t start = at + key.size() + 2;
  return status.substr(start, status.find('\n', start) - start);
}

}  // namespace

TEST_CASE("runtime-container: a container runs as pid 1 with its own hostname, /proc, /sys and /dev") {
  Container c;
  InitSpec spec = spec_for(c.mount(), "echo pid=$$; hostname; id; ls /dev; cat /proc/mounts; cat /proc/self/status");
  std::string out = run(c, spec);
  CHECK(contains(out, "pid=1\n"));
  CHECK(contains(out, "test-host\n"));
  CHECK(contains(out, "uid=0(root) gid=0(root)"));
  for (const char* dev : {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue", "fd",
                          "stdin", "stdout", "stderr", "core"}) {
    CHECK_MESSAGE(contains(out, std::string("\n") + dev + "\n"), dev);
  }
  CHECK(contains(out, "proc /proc proc rw,nosuid,nodev,noexec"));
  CHECK(contains(out, "sysfs /sys sysfs ro,nosuid,nodev,noexec"));
  CHECK(contains(out, "tmpfs /dev tmpfs rw,nosuid"));
  CHECK(contains(out, "devpts /dev/pts devpts rw,nosuid,noexec"));
  CHECK(contains(out, "mqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec"));
  CHECK(contains(out, "shm /dev/shm tmpfs rw,nosuid,nodev,noexec"));
  CHECK(contains(out, "/proc/sys proc ro,"));
  // containerd's default capability set, nothing more.
  CHECK(status_field(out, "CapEff") == "00000000a80425fb");
  CHECK(status_field(out, "CapBnd") == "00000000a80425fb");
  CHECK(status_field(out, "CapAmb") == "0000000000000000");
  CHECK(status_field(out, "NoNewPrivs") == "0");
}

TEST_CASE("runtime-container: cwd is created, env is passed, the user and groups are switched") {
  Container c;
  InitSpec spec = spec_for(c.mount(), "pwd; echo \"$FOO\"; id; cat /proc/self/status");
  spec.process.cwd = "/work/dir";
  spec.process.env.push_back("FOO=bar baz");
  spec.process.uid = 1000;
  spec.process.gid = 1000;
  spec.process.additional_gids = {10, 100};
  spec.process.no_new_privs = true;
  std::string out = run(c, spec);
  CHECK(contains(out, "/work/dir\nbar baz\n"));
  CHECK(contains(out, "uid=1000(user) gid=1000(user) groups=10(wheel),100(users)"));
  // As under containerd and runc, a non-root user gets no ambient capabilities, so exec leaves it
  // none in effect; the bounding set still limits what a setuid binary could regain.
  CHECK(status_field(out, "CapEff") == "0000000000000000");
  CHECK(status_field(out, "CapAmb") == "0000000000000000");
  CHECK(status_field(out, "CapBnd") == "00000000a80425fb");
  CHECK(status_field(out, "NoNewPrivs") == "1");
}

TEST_CASE("runtime-container: read-only rootfs, masked and read-only paths, a read-only bind mount") {
  Container c;
  TempDir host;
  vpcri::fs::write_file_atomic(host / "file", "from the host\n");
  InitSpec spec = spec_for(c.mount(),
                           "touch /newfile 2>/dev/null || echo rootfs-ro; touch /dev/shm/x && echo shm-rw; "
                           "echo timer_list=$(cat /proc/timer_list | wc -c); echo 1 > /proc/sys/kernel/domainname || echo sys-ro; "
                           "cat /data/file; touch /data/new 2>/dev/null || echo data-ro; cat /etc/single");
  spec.readonly_rootfs = true;
  spec.mounts = {{host.path, "/data", true, Propagation::private_, true},
                 {host / "file", "/etc/single", true, Propagation::rslave, false}};
  std::string out = run(c, spec);
  CHECK(contains(out, "rootfs-ro\nshm-rw\ntimer_list=0\nsys-ro\nfrom the host\ndata-ro\nfrom the host\n"));
  CHECK_FALSE(vpcri::fs::exists(host / "new"));
}

TEST_CASE("runtime-container: a symlink in the image cannot point a mount outside the rootfs") {
  Container c;
  std::string name = "vpcri-escape-" + std::to_string(::getpid());
  stdfs::create_symlink("/etc", c.dir / "layer/abs");
  stdfs::create_symlink("../../../../../../../../etc", c.dir / "layer/rel");
  TempDir host;
  vpcri::fs::write_file_atomic(host / "file", "mounted\n");
  InitSpec spec = spec_for(c.mount(), "cat /etc/" + name + "-a /etc/" + name + "-r");
  spec.mounts = {{host / "file", "/abs/" + name + "-a", false, Propagation::private_, false},
                 {host / "file", "/rel/" + name + "-r", false, Propagation::private_, false}};
  std::string out = run(c, spec);
  CHECK(out == "mounted\nmounted\n");  // inside the container, where the image's links lead
  CHECK_FALSE(vpcri::fs::exists("/etc/" + name + "-a"));
  CHECK_FALSE(vpcri::fs::exists("/etc/" + name + "-r"));
}

TEST_CASE("runtime-container: seccomp RuntimeDefault blocks unshare, unconfined does not") {
  Container c;
  InitSpec spec = spec_for(c.mount(), "unshare -U true && echo allowed || echo blocked");
  std::string out = run(c, spec);
  CHECK(out == "allowed\n");
  Container c2;
  spec = spec_for(c2.mount(), "unshare -U true && echo allowed || echo blocked; grep Seccomp: /proc/self/status");
  spec.process.seccomp.mode = SeccompSpec::Mode::runtime_default;
  out = run(c2, spec);
  CHECK(contains(out, "blocked\nSeccomp:\t2\n"));
}

TEST_CASE("runtime-container: the filter a container runs under is its profile's, compiled for its capabilities") {
  // vpcrid compiles the profile and vpcri-init only loads the program: the kernel must hold
  // exactly what libseccomp makes of RuntimeDefault for this capability set (a capability-gated
  // rule in or out would differ).
  for (const auto& caps : {security::default_capabilities(), security::all_capabilities()}) {
    Container c;
    InitSpec spec = spec_for(c.mount(), "exec sleep 1000");
    spec.process.capabilities = caps;
    spec.process.seccomp.mode = SeccompSpec::Mode::runtime_default;
    Reaper reaper;
    MonitorHandle h = launch(binaries(), c.state_dir, c.log_path, spec, "");
    reaper.add(h);
    std::string installed = security::testing::installed_seccomp_filter(h.container().pid);
    CHECK(installed == security::compile_profile_json(security::runtime_default_profile_json(), caps));
    h.signal_container(SIGKILL);
    wait_exit(h);
  }

  // An ERRNO rule returns the profile's errno (ENOTDIR here, not the default EPERM).
  Container c;
  TempDir host;
  vpcri::fs::write_file_atomic(host / "profile.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 20}]})");
  InitSpec spec = spec_for(c.mount(), "mkdir /newdir 2>&1; true");
  spec.process.seccomp = {SeccompSpec::Mode::localhost, host / "profile.json", ""};
  CHECK(contains(run(c, spec), "Not a directory"));
}

TEST_CASE("runtime-container: a profile that cannot be read or compiled fails the launch before anything runs") {
  Container c;
  TempDir host;
  InitSpec spec = spec_for(c.mount(), "true");
  spec.process.seccomp = {SeccompSpec::Mode::localhost, host / "gone.json", ""};
  try {
    launch(binaries(), c.state_dir, c.log_path, spec, "");
    FAIL("launched without its profile");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::not_found);
    CHECK(contains(e.what(), "seccomp profile: "));
  }
  vpcri::fs::write_file_atomic(host / "bad.json", R"({"defaultAction": "SCMP_ACT_BOGUS"})");
  spec.process.seccomp.profile_path = host / "bad.json";
  CHECK_THROWS_WITH(launch(binaries(), c.state_dir, c.log_path, spec, ""),
                    doctest::Contains("seccomp: seccomp profile: defaultAction has unknown action"));
  // No monitor was started: nothing in the state directory.
  CHECK(!vpcri::fs::exists(c.state_dir + "/monitor"));
  CHECK(!vpcri::fs::exists(c.state_dir + "/init.json"));
}

TEST_CASE("runtime-container: vpcri-init refuses a confined spec without a compiled filter") {
  // Whoever wrote the spec, a profile never silently turns into no filter at all.
  TempDir dir;
  InitSpec spec;
  spec.process.args = {"/bin/true"};
  spec.process.seccomp.mode = SeccompSpec::Mode::runtime_default;
  vpcri::fs::write_file_atomic(dir / "init.json", init_spec_to_json(spec));
  int errors[2];
  REQUIRE(::pipe2(errors, O_CLOEXEC) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(errors[1], 3);
    ::execl(VPCRI_INIT_PATH, VPCRI_INIT_PATH, "--spec", (dir / "init.json").c_str(), nullptr);
    ::_exit(127);
  }
  ::close(errors[1]);
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(errors[0], buf, sizeof buf)) > 0;) message.append(buf, static_cast<size_t>(n));
  ::close(errors[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  REQUIRE(message.size() > sizeof(int));
  CHECK(message.substr(sizeof(int)) == "seccomp: the spec has no compiled filter for its profile");
}

TEST_CASE("runtime-container: rlimits, oom_score_adj and sysctls") {
  Container c;
  InitSpec spec = spec_for(c.mount(), "ulimit -n; cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward");
  spec.process.rlimits = {{"RLIMIT_NOFILE", 100, 200}};
  spec.process.oom_score_adj = 500;
  spec.sysctls = {{"net.ipv4.ip_forward", "1"}};
  spec.net.mode = NamespaceSpec::Mode::fresh;
  CHECK(run(c, spec) == "100\n500\n1\n");
}

TEST_CASE("runtime-container: a missing executable fails the launch and is recorded as StartError") {
  Container c;
  InitSpec spec = spec_for(c.mount(), "");
  spec.process.args = {"missing-binary"};
  try {
    Reaper reaper;
    reaper.add(launch(binaries(), c.state_dir, c.log_path, spec, ""));
    FAIL("launch of a missing binary did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::not_found);
    CHECK(contains(e.what(), "exec \"missing-binary\": executable file not found in $PATH"));
  }
  auto status = read_exit(c.state_dir);
  REQUIRE(status.has_value());
  CHECK(status->reason == "StartError");
  CHECK(status->exit_code == 128);
  CHECK(status->message == "exec \"missing-binary\": executable file not found in $PATH");

  // A step that fails names itself: a bind mount of a source that does not exist.
  Container c2;
  spec = spec_for(c2.mount(), "true");
  spec.mounts = {{c2.dir / "no-such-source", "/data", false, Propagation::private_, true}};
  CHECK_THROWS_WITH(launch(binaries(), c2.state_dir, c2.log_path, spec, ""),
                    doctest::Contains(("mount " + c2.dir.path + "/no-such-source on /data: No such file or directory").c_str()));
}

TEST_CASE("runtime-container: containers of a pod share its pinned IPC, UTS and PID namespaces") {
  TempDir pod;
  struct Unpin {
    std::string dir;
    ~Unpin() { unpin_pod_namespaces(dir); }
  } unpin{pod / "ns"};
  PodNamespaces ns = pin_pod_namespaces(pod / "ns", {true, true, false, "pod-host"});
  auto join = [](const std::string& path) { return NamespaceSpec{NamespaceSpec::Mode::join, path}; };

  Container first, second;
  Reaper reaper;
  std::string script = "echo $$; hostname; readlink /proc/self/ns/ipc";
  // The first one plays pause: pid 1 of a fresh PID namespace, which is then pinned.
  InitSpec a = spec_for(first.mount(), script + "; exec sleep 1000");
  a.ipc = join(ns.ipc);
  a.uts = join(ns.uts);
  MonitorHandle h = launch(binaries(), first.state_dir, first.log_path, a, "");
  reaper.add(h);
  InitSpec b = spec_for(second.mount(), script);
  b.ipc = a.ipc;
  b.uts = a.uts;
  b.pid = join(pin_pid_namespace(pod / "ns", h.container()));
  MonitorHandle h2 = launch(binaries(), second.state_dir, second.log_path, b, "");
  reaper.add(h2);
  CHECK(wait_exit(h2).exit_code == 0);

  struct stat ipc{};
  REQUIRE(::stat(ns.ipc.c_str(), &ipc) == 0);
  std::string ipc_link = "ipc:[" + std::to_string(ipc.st_ino) + "]";
  // The first process is the pod's pid 1. It still runs, so its lines reach the log one by one:
  // wait for all three rather than for the first.
  const std::string expected = "1\npod-host\n" + ipc_link + "\n";
  CHECK_MESSAGE(eventually([&] { return log_text(first.log_path) == expected; }), log_text(first.log_path));
  std::string out = log_text(second.log_path);
  CHECK(out.rfind("1\n", 0) != 0);
  CHECK(contains(out, "\npod-host\n" + ipc_link + "\n"));
  h.signal_container(SIGKILL);
  wait_exit(h);
}

TEST_CASE("runtime-container: exec_sync runs in the container, returns its output and exit code, times out") {
  Container c;
  Reaper reaper;
  InitSpec spec = spec_for(c.mount(), "exec sleep 1000");
  MonitorHandle h = launch(binaries(), c.state_dir, c.log_path, spec, "");
  reaper.add(h);
  std::string proc = "/proc/" + std::to_string(h.container().pid) + "/ns/";
  InitSpec exec = spec_for("", "echo pid=$$; hostname; echo err >&2; exit 3");
  for (auto [ns, name] : {std::pair{&exec.ipc, "ipc"}, {&exec.uts, "uts"}, {&exec.net, "net"}, {&exec.pid, "pid"},
                          {&exec.mnt, "mnt"}}) {
    *ns = {NamespaceSpec::Mode::join, proc + name};
  }
  ExecResult r = exec_sync(binaries(), exec, 10s);
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.timed_out);
  CHECK(r.stdout_data.rfind("pid=", 0) == 0);
  CHECK(r.stdout_data.rfind("pid=1\n", 0) != 0);
  CHECK(contains(r.stdout_data, "\ntest-host\n"));
  CHECK(r.stderr_data == "err\n");

  exec.process.args = {"sh", "-c", "head -c 100000 /dev/zero"};
  r = exec_sync(binaries(), exec, 10s, 1000);
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_data.size() == 1000);

  exec.process.args = {"sh", "-c", "sleep 100 & sleep 100"};
  auto start = std::chrono::steady_clock::now();
  r = exec_sync(binaries(), exec, 300ms);
  CHECK(r.timed_out);
  CHECK(r.exit_code == 137);
  CHECK(std::chrono::steady_clock::now() - start < 5s);

  exec.process.args = {"missing-binary"};
  CHECK_THROWS_WITH(exec_sync(binaries(), exec, 10s),
                    doctest::Contains("exec \"missing-binary\": executable file not found in $PATH"));
  h.signal_container(SIGKILL);
  wait_exit(h);
}

TEST_CASE("runtime-container: exec_sync enters the pidfd's process, never what its pid names later") {
  Container a, b;
  Reaper reaper;
  InitSpec spec_a = spec_for(a.mount(), "exec sleep 1000");
  spec_a.hostname = "host-a";
  InitSpec spec_b = spec_for(b.mount(), "exec sleep 1000");
  spec_b.hostname = "host-b";
  MonitorHandle ha = launch(binaries(), a.state_dir, a.log_path, spec_a, "");
  reaper.add(ha);
  MonitorHandle hb = launch(binaries(), b.state_dir, b.log_path, spec_b, "");
  reaper.add(hb);
  vpcri::UniqueFd pidfd_a = open_pidfd(ha.container());
  REQUIRE(pidfd_a);

  // The paths name B: as if A's pid had been recycled by B between the check and the join.
  const std::string b_ns = "/proc/" + std::to_string(hb.container().pid) + "/ns/";
  InitSpec exec = spec_for("", "hostname");
  for (auto [ns, name] : {std::pair{&exec.ipc, "ipc"}, {&exec.uts, "uts"}, {&exec.net, "net"}, {&exec.pid, "pid"},
                          {&exec.mnt, "mnt"}}) {
    *ns = {NamespaceSpec::Mode::join, b_ns + name};
  }
  ExecOptions options;
  options.timeout = 10s;
  options.ns_pidfd = pidfd_a.get();
  ExecResult r = exec_sync(binaries(), exec, options);
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_data == "host-a\n");

  // A is gone: its pidfd enters nothing (and never B).
  ha.signal_container(SIGKILL);
  wait_exit(ha);
  bool refused = false;
  try {
    r = exec_sync(binaries(), exec, options);
    CHECK_MESSAGE(false, "the exec ran: " << r.stdout_data);
  } catch (const vpcri::Error& e) {
    refused = contains(e.what(), "join the container's namespaces");
    CHECK_MESSAGE(refused, e.what());
  }
  CHECK(refused);
  hb.signal_container(SIGKILL);
  wait_exit(hb);
}

TEST_CASE("runtime-container: exec_sync ends when cancelled and reports truncated output") {
  Container c;
  Reaper reaper;
  MonitorHandle h = launch(binaries(), c.state_dir, c.log_path, spec_for(c.mount(), "exec sleep 1000"), "");
  reaper.add(h);
  vpcri::UniqueFd pidfd = open_pidfd(h.container());
  REQUIRE(pidfd);
  InitSpec exec = spec_for("", "head -c 5000 /dev/zero; sleep 1000");
  for (auto* ns : {&exec.ipc, &exec.uts, &exec.net, &exec.pid, &exec.mnt}) *ns = {NamespaceSpec::Mode::join, "/nonexistent"};
  ExecOptions options;
  options.ns_pidfd = pidfd.get();
  options.max_output = 1000;
  int polls = 0;
  options.cancelled = [&] { return ++polls > 50; };  // about a second of polling
  bool killed_everything = false;
  options.kill_everything = [&] { killed_everything = true; };
  ExecResult r = exec_sync(binaries(), exec, options);
  CHECK(r.cancelled);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 137);
  CHECK(killed_everything);
  CHECK(r.stdout_data.size() == 1000);
  CHECK(r.truncated);
  h.signal_container(SIGKILL);
  wait_exit(h);
}

namespace {

// A cgroup of our own, removed again whatever happens.
struct OwnCgroup {
  std::string dir;
  explicit OwnCgroup(std::string parent) : dir(std::move(parent) + "/vpcri-container-test-" + std::to_string(::getpid())) {
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  }
  ~OwnCgroup() {
    for (int i = 0; i < 500 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; i++) std::this_thread::sleep_for(10ms);
  }
};

// The cgroup2 mount: the unified hierarchy of a hybrid host, or the only one.
std::string cgroup2_mount() {
  for (const char* dir : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    struct statfs fs {};
    if (::statfs(dir, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return dir;
  }
  return "";
}

}  // namespace

TEST_CASE("runtime-container: the process is in its cgroups before the command runs") {
  // Whichever of a v1 pids hierarchy and a cgroup2 one this host has (hybrid: both). The cgroup2
  // directory is entered by the clone itself (CLONE_INTO_CGROUP), the v1 one by vpcri-init.
  std::vector<std::unique_ptr<OwnCgroup>> cgroups;
  std::vector<std::string> expected;  // lines of /proc/self/cgroup seen from the host's namespace
  std::string name = "/vpcri-container-test-" + std::to_string(::getpid());
  struct statfs v1 {};
  if (::statfs("/sys/fs/cgroup/pids", &v1) == 0 && v1.f_type == CGROUP_SUPER_MAGIC) {
    cgroups.push_back(std::make_unique<OwnCgroup>("/sys/fs/cgroup/pids"));
    expected.push_back(":pids:" + name + "\n");
  }
  if (std::string unified = cgroup2_mount(); !unified.empty()) {
    cgroups.push_back(std::make_unique<OwnCgroup>(unified));
    expected.push_back("0::" + name + "\n");
  }
  REQUIRE(!cgroups.empty());
  std::vector<std::string> dirs;
  for (const auto& c : cgroups) dirs.push_back(c->dir);

  SUBCASE("a private cgroup namespace (the default), unshared after joining: its cgroups are its \"/\"") {
    Container c;
    InitSpec spec = spec_for(c.mount(), "cat /proc/self/cgroup");
    spec.cgroup_dirs = dirs;
    std::string out = run(c, spec);
    if (expected.size() == 2) CHECK(contains(out, ":pids:/\n"));
    CHECK(contains(out, "0::/\n"));
  }
  SUBCASE("seen from the host's cgroup namespace: the cgroups it was given, for the container and an exec") {
    Container c;
    InitSpec spec = spec_for(c.mount(), "cat /proc/self/cgroup; sleep 1000");
    spec.cgroup_dirs = dirs;
    spec.cgroup = {NamespaceSpec::Mode::host, ""};
    Reaper reaper;
    MonitorHandle h = launch(binaries(), c.state_dir, c.log_path, spec, "");
    reaper.add(h);
    std::string out;
    for (int i = 0; i < 500 && !contains(out = log_text(c.log_path), "0::"); i++) std::this_thread::sleep_for(10ms);
    for (const auto& line : expected) CHECK_MESSAGE(contains(out, line), line << " in " << out);

    vpcri::UniqueFd pidfd = open_pidfd(h.container());
    REQUIRE(pidfd);
    InitSpec exec = spec_for("", "cat /proc/self/cgroup");
    for (auto* ns : {&exec.ipc, &exec.uts, &exec.net, &exec.pid, &exec.mnt}) *ns = {NamespaceSpec::Mode::join, "/nonexistent"};
    exec.cgroup = {NamespaceSpec::Mode::host, ""};
    exec.cgroup_dirs = dirs;
    ExecOptions options;
    options.ns_pidfd = pidfd.get();
    ExecResult r = exec_sync(binaries(), exec, options);
    CHECK_MESSAGE(r.exit_code == 0, r.stderr_data);
    for (const auto& line : expected) CHECK_MESSAGE(contains(r.stdout_data, line), line << " in " << r.stdout_data);
    h.signal_container(SIGKILL);
    wait_exit(h);
  }
  SUBCASE("a cgroup2 directory that does not exist fails the start and names it") {
    if (cgroup2_mount().empty()) return;
    Container c;
    InitSpec spec = spec_for(c.mount(), "true");
    spec.cgroup_dirs = {cgroup2_mount() + "/vpcri-container-test-missing"};
    CHECK_THROWS_WITH(launch(binaries(), c.state_dir, c.log_path, spec, ""),
                      doctest::Contains("vpcri-container-test-missing"));
  }
}

TEST_CASE("runtime-container: a hard limit above ours or a lower oom_score_adj without CAP_SYS_RESOURCE") {
  std::string self = vpcri::fs::read_file("/proc/self/status");
  bool sys_resource = (std::stoull(status_field(self, "CapEff"), nullptr, 16) >> 24 & 1) != 0;
  rlimit nofile{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &nofile) == 0);

  Container c;
  InitSpec spec = spec_for(c.mount(), "ulimit -Hn");
  spec.process.rlimits = {{"RLIMIT_NOFILE", nofile.rlim_cur, nofile.rlim_max + 1}};
  if (sys_resource) {
    CHECK(run(c, spec) == std::to_string(nofile.rlim_max + 1) + "\n");
  } else {
    CHECK_THROWS_WITH(launch(binaries(), c.state_dir, c.log_path, spec, ""),
                      doctest::Contains("needs CAP_SYS_RESOURCE to raise the hard limit: Operation not permitted"));
  }

  // Lowering oom_score_adj needs the capability too; without it the current value stays.
  Container c2;
  int current = std::stoi(vpcri::fs::read_file("/proc/self/oom_score_adj"));
  REQUIRE(current > -1000);
  spec = spec_for(c2.mount(), "cat /proc/self/oom_score_adj");
  spec.process.oom_score_adj = current - 1;
  CHECK(run(c2, spec) == std::to_string(sys_resource ? current - 1 : current) + "\n");
}

TEST_CASE("runtime-container: a Localhost seccomp profile; a privileged container") {
  Container c;
  TempDir host;
  vpcri::fs::write_file_atomic(host / "profile.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})");
  InitSpec spec = spec_for(c.mount(), "mkdir /newdir 2>/dev/null || echo denied");
  spec.process.seccomp = {SeccompSpec::Mode::localhost, host / "profile.json", ""};
  CHECK(run(c, spec) == "denied\n");

  // Privileged: /sys read-write, the host's devices, nothing masked, every capability.
  Container c2;
  spec = spec_for(c2.mount(), "grep ' /sys ' /proc/mounts; head -c 1 /proc/timer_list | wc -c; test -e /dev/kmsg && echo kmsg");
  spec.privileged = true;
  spec.process.capabilities = security::all_capabilities();
  std::string out = run(c2, spec);
  CHECK(contains(out, "sysfs /sys sysfs rw,"));
  CHECK_MESSAGE(contains(out, "\n1\nkmsg\n"), out);
}

// InitSpec's JSON form: a full round trip, and errors that name the field.
#include "runtime/container/spec.h"

#include <doctest/doctest.h>

#include "common/error.h"

using namespace vpcri::runtime::container;

TEST_CASE("runtime-container: an InitSpec survives a JSON round trip") {
  InitSpec spec;
  spec.process.args = {"sh", "-c", "echo \"hi\"\n"};
  spec.process.env = {"PATH=/bin", "X=ü"};
  spec.process.cwd = "/work";
  spec.process.uid = 1000;
  spec.process.gid = 1001;
  spec.process.additional_gids = {10, 4294967295U};
  spec.process.capabilities = {"CAP_CHOWN", "CAP_KILL"};
  spec.process.no_new_privs = true;
  spec.process.seccomp = {SeccompSpec::Mode::localhost, "/var/lib/kubelet/seccomp/p.json",
                          std::string("\x15\0\x01\xff", 4)};  // a compiled filter is binary
  spec.process.rlimits = {{"RLIMIT_NOFILE", 1024, UINT64_MAX}};
  spec.process.oom_score_adj = -998;
  spec.net = {NamespaceSpec::Mode::join, "/run/netns/x"};
  spec.ipc = {NamespaceSpec::Mode::host, ""};
  spec.uts = {NamespaceSpec::Mode::fresh, ""};
  spec.pid = {NamespaceSpec::Mode::join, "/run/vpcri/pods/p/pid"};
  spec.mnt = {NamespaceSpec::Mode::fresh, ""};
  spec.cgroup = {NamespaceSpec::Mode::join, "/proc/7/ns/cgroup"};
  spec.rootfs = "/run/vpcri/c/rootfs";
  spec.readonly_rootfs = true;
  spec.privileged = true;
  spec.mounts = {{"/host/a", "/a", true, Propagation::rslave, false}, {"/host/b", "/b", false, Propagation::rshared, true}};
  spec.devices = {{"/dev/zero", "/dev/myzero", 'c', 1, 5, 0640, 0, 6, "r"}, {"/dev/vda", "/dev/disk", 'b', 254, 0, 0660, 0, 6, "rwm"}};
  spec.masked_paths = {"/proc/kcore"};
  spec.readonly_paths = {"/proc/sys"};
  spec.hostname = "pod";
  spec.sysctls = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "65536"}};
  spec.cgroup_dirs = {"/sys/fs/cgroup/memory/x", "/sys/fs/cgroup/pids/x"};
  spec.ns_pidfd = 5;
  spec.cgroupfs = CgroupfsLayout{{{"/sys/fs/cgroup/cpu,cpuacct", "cgroup", "cpu,cpuacct"},
                                  {"/sys/fs/cgroup/unified", "cgroup2", ""}},
                                 {{"cpu", "cpu,cpuacct"}}};
  CHECK(init_spec_from_json(init_spec_to_json(spec)) == spec);
  spec.cgroupfs = CgroupfsLayout{};  // known to have none, unlike absent
  CHECK(init_spec_from_json(init_spec_to_json(spec)) == spec);

  InitSpec minimal;
  minimal.process.args = {"/pause"};
  CHECK(init_spec_from_json(init_spec_to_json(minimal)) == minimal);
  CHECK(init_spec_from_json(R"({"process": {"args": ["x"]}})") == [] {
    InitSpec s;
    s.process.args = {"x"};
    return s;
  }());
}

TEST_CASE("runtime-container: a bad init spec names the field") {
  auto error_of = [](const std::string& text) {
    try {
      init_spec_from_json(text);
    } catch (const vpcri::Error& e) {
      CHECK(e.code() == vpcri::Errc::invalid_argument);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of("{").rfind("init spec: not JSON", 0) == 0);
  CHECK(error_of(R"({"process": {"args": ["x"]}, "cgroupfs": {"mounts": [{"mountpoint": "/etc", "fstype": "cgroup"}]}})") ==
        "init spec: cgroupfs.mounts[0].mountpoint: not under /sys/fs/cgroup");
  CHECK(error_of(R"({"process": {"args": ["x"]}, "cgroupfs": {"mounts": [{"mountpoint": "/sys/fs/cgroup", "fstype": "ext4"}]}})") ==
        "init spec: cgroupfs.mounts[0].fstype: not cgroup or cgroup2");
  CHECK(error_of(R"({"process": {"args": ["x"]}, "cgroupfs": {"symlinks": [{"name": "../x", "target": "y"}]}})") ==
        "init spec: cgroupfs.symlinks[0].name: not a file name");
  CHECK(error_of("[]") == "init spec: not a JSON object");
  CHECK(error_of("{}") == "init spec: process: missing");
  CHECK(error_of(R"({"process": {"args": []}})") == "init spec: process.args: no command");
  CHECK(error_of(R"({"process": {"args": ["x", 1]}})") == "init spec: process.args[1]: not a string");
  CHECK(error_of(R"({"process": {"args": ["x"], "uid": -1}})") == "init spec: process.uid: not a non-negative integer");
  CHECK(error_of(R"({"process": {"args": ["x"], "rlimits": [{"name": "RLIMIT_NOFILE", "soft": "1"}]}})") ==
        "init spec: process.rlimits[0].soft: not a non-negative integer");
  CHECK(error_of(R"({"process": {"args": ["x"], "cwd": "rel"}})") == "init spec: process.cwd: \"rel\" is not absolute");
  CHECK(error_of(R"({"process": {"args": ["x"], "seccomp": {"mode": "bogus"}}})") ==
        "init spec: process.seccomp.mode: \"bogus\" is not unconfined, runtime_default or localhost");
  CHECK(error_of(R"({"process": {"args": ["x"], "seccomp": {"mode": "runtime_default", "filter": "a"}}})") ==
        "init spec: process.seccomp.filter: not hex digits in pairs");
  CHECK(error_of(R"({"process": {"args": ["x"], "seccomp": {"mode": "runtime_default", "filter": "0g"}}})") ==
        "init spec: process.seccomp.filter: not hex digits in pairs");
  CHECK(error_of(R"({"process": {"args": ["x"]}, "net": {"mode": "join"}})") ==
        "init spec: net.path: join needs an absolute path");
  CHECK(error_of(R"({"process": {"args": ["x"]}, "mounts": [{"source": "/a", "destination": "b"}]})") ==
        "init spec: mounts[0].destination: \"b\" is not absolute");
  CHECK(error_of(R"({"process": {"args": ["x"]}, "mounts": [{"source": "/a", "destination": "/b", "propagation": "x"}]})") ==
        "init spec: mounts[0].propagation: \"x\" is not private, rslave or rshared");
  CHECK(error_of(R"({"process": {"args": ["x"]}, "devices": [{"path": "/dev/x", "type": "u"}]})") ==
        "init spec: devices[0].type: \"u\" is not c or b");
  CHECK(error_of(R"({"process": {"args": ["x"]}, "devices": [{"path": "/dev/x", "access": "rx"}]})") ==
        "init spec: devices[0].access: \"rx\" is not a subset of rwm");
  CHECK(error_of(R"({"process": {"args": ["x"]}, "sysctls": {"a": 1}})") == "init spec: sysctls.a: not a string");
  CHECK(error_of(R"({"process": {"args": ["x"], "oom_score_adj": 1001}})") ==
        "init spec: process.oom_score_adj: 1001 is not in -1000..1000");
}

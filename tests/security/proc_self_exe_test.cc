// proc_self_exe_overwrite: the CVE-2019-5736 attack against the real vpcrid. A container of a pod
// sharing its PID namespace runs exe_attacker, which grabs /proc/<pid>/exe of every process that
// appears and tries to overwrite each vpcri binary it got once it is no longer running, keeping
// any writer it gets open (which would make every later exec of that file fail). The other
// containers' starts and ExecSyncs of a `#!/proc/self/exe` script feed it vpcri-init (as its own
// setup and as the script's interpreter) and vpcri-monitor's child. vpcrid runs copies of
// vpcri-init and vpcri-monitor in the test's temp dir: whatever happens, the build's stay intact.
// Afterwards, with the attacker still holding what it got, new starts and ExecSyncs must work.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "common/fs.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string sha256(const std::string& path) {
  RunResult r = run({"/usr/bin/sha256sum", path});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out.substr(0, 64);
}

std::string copy_executable(const std::string& from, const std::string& dir) {
  const std::string to = dir + "/" + stdfs::path(from).filename().string();
  stdfs::copy_file(from, to);
  stdfs::permissions(to, stdfs::perms(0755));
  return to;
}

std::string read_or_empty(const std::string& path) { return stdfs::exists(path) ? vpcri::fs::read_file(path) : ""; }

// Lines of the attacker's CRI log from `from` on that start with `prefix`.
int count_lines(const std::string& log, size_t from, const std::string& prefix) {
  int n = 0;
  for (size_t pos = log.find(" stdout F " + prefix, from); pos != std::string::npos;
       pos = log.find(" stdout F " + prefix, pos + 1)) {
    n++;
  }
  return n;
}

// A process the attack is after: vpcri-init (under whatever name exec gave it) or the script.
int init_sightings(const std::string& log, size_t from) {
  int n = 0;
  for (size_t pos = log.find(" stdout F saw ", from); pos != std::string::npos; pos = log.find(" stdout F saw ", pos + 1)) {
    const std::string line = log.substr(pos, log.find('\n', pos) - pos);
    if (line.find("vpcri") != std::string::npos || line.ends_with(" evil")) n++;
  }
  return n;
}

// vpcri-init files the attacker got hold of ("holding PATH", not "holding writer PATH").
int init_holdings(const std::string& log, size_t from) {
  int n = 0;
  for (size_t pos = log.find(" stdout F holding /", from); pos != std::string::npos;
       pos = log.find(" stdout F holding /", pos + 1)) {
    if (log.substr(pos, log.find('\n', pos) - pos).find("vpcri-init") != std::string::npos) n++;
  }
  return n;
}

bool wait_until(const std::function<bool()>& done, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

void mount_readonly(v1::ContainerConfig& c, const std::string& host_path, const std::string& container_path) {
  auto* m = c.add_mounts();
  m->set_container_path(container_path);
  m->set_host_path(host_path);
  m->set_readonly(true);
}

// The tools, and the host's shared libraries: vpcri-init is dynamically linked, and as the
// script's interpreter it runs with the container's files, like any image with a libc has them.
v1::ContainerConfig tool_container(const std::string& name, const std::string& command, const std::string& tools) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(kTestImage);
  c.add_command(command);
  c.set_log_path(name + ".log");
  mount_readonly(c, tools, "/tools");
  for (const char* dir : {"/lib", "/lib64", "/usr/lib"}) {
    if (stdfs::exists(dir)) mount_readonly(c, dir, dir);
  }
  // The attacker's own environment: ld.so runs the interpreter slowly (writing its debug output
  // to the container's /tmp), so the attack does not depend on winning a millisecond race.
  for (auto [key, value] : {std::pair{"LD_DEBUG", "all"}, std::pair{"LD_DEBUG_OUTPUT", "/tmp/ld-debug"}}) {
    auto* env = c.add_envs();
    env->set_key(key);
    env->set_value(value);
  }
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::POD);
  return c;
}

}  // namespace

TEST_CASE("proc_self_exe_overwrite: a container cannot overwrite vpcri-init or vpcri-monitor on the host, nor block later starts") {
  TempDir tmp;
  const std::string bin = tmp.path() + "/bin", tools = tmp.path() + "/tools", logs = tmp.path() + "/logs";
  for (const auto& dir : {bin, tools, logs}) stdfs::create_directory(dir);
  const std::string init = copy_executable(binary("VPCRI_INIT"), bin);
  const std::string monitor = copy_executable(binary("VPCRI_MONITOR"), bin);
  copy_executable(binary("VPCRI_EXE_ATTACKER"), tools);
  vpcri::fs::write_file_atomic(tools + "/evil", "#!/proc/self/exe\n", 0755);
  const std::string init_sha = sha256(init), monitor_sha = sha256(monitor);

  Daemon d;
  d.set_config(pods_config_yaml(monitor, init));
  d.start();
  v1::PodSandboxConfig pc;
  pc.mutable_metadata()->set_name("exe");
  pc.mutable_metadata()->set_namespace_("security");
  pc.mutable_metadata()->set_uid("uid-exe");
  pc.set_log_directory(logs);
  pc.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::POD);
  Pod pod(d, pc);

  std::string attacker;
  grpc::Status s = create_container(d, pod, tool_container("attacker", "/tools/exe_attacker", tools), &attacker);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  s = start_container(d, attacker);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  const std::string log = logs + "/attacker.log";
  REQUIRE_MESSAGE(wait_until([&] { return count_lines(read_or_empty(log), 0, "ready") == 1; }, 20s), read_or_empty(log));

  // Container starts: vpcri-init sets each one up in the shared PID namespace, then runs the
  // script, and through it itself once more. Until the attacker has seen one.
  size_t from = read_or_empty(log).size();
  for (int i = 0; i < 10 && init_sightings(read_or_empty(log), from) == 0; i++) {
    std::string id;
    s = create_container(d, pod, tool_container("evil-" + std::to_string(i), "/tools/evil", tools), &id);
    CHECK_MESSAGE(s.ok(), s.error_message());
    if (s.ok()) s = start_container(d, id);
    CHECK_MESSAGE(s.ok(), "start " << i << ": " << s.error_message());
    wait_until([&] { return container_status(d, id).state() == v1::CONTAINER_EXITED; }, 20s);
  }
  CHECK_MESSAGE(init_sightings(read_or_empty(log), from) > 0, "the attacker never saw vpcri-init start a container");

  // ExecSync (kubelet's exec probes): vpcri-init joins the container, then runs the script.
  from = read_or_empty(log).size();
  for (int i = 0; i < 30 && init_sightings(read_or_empty(log), from) == 0; i++) {
    v1::ExecSyncResponse resp;
    s = exec_sync(d, attacker, {"/tools/evil"}, &resp, 10);
    CHECK_MESSAGE(s.ok(), "exec " << i << ": " << s.error_message());
  }
  CHECK_MESSAGE(init_sightings(read_or_empty(log), from) > 0, "the attacker never saw vpcri-init run an exec");

  // Nothing runs vpcri-init now: every file the attacker holds is writable unless the kernel
  // refuses, so it settles at "pending 0" (checked twice: a file held last may be printed late).
  auto settled = [&] {
    const std::string text = read_or_empty(log);
    size_t last = text.rfind(" stdout F pending ");
    return last != std::string::npos && text.compare(last, 20, " stdout F pending 0\n") == 0;
  };
  CHECK(wait_until(settled, 20s));
  std::this_thread::sleep_for(500ms);
  CHECK(wait_until(settled, 20s));

  // The attack reached the file vpcri-init runs from (caught as the script's interpreter before
  // its prctl; LD_DEBUG makes that window wide), and never got a writer on it.
  const std::string attack_log = read_or_empty(log);
  CHECK_MESSAGE(init_holdings(attack_log, 0) > 0, "the attacker never got hold of vpcri-init:\n" << attack_log);
  CHECK_MESSAGE(count_lines(attack_log, 0, "holding writer") == 0, attack_log);

  // Whatever the attacker still holds open (a writer on what vpcri-init runs from would make
  // every exec of it fail with ETXTBSY), later starts and ExecSyncs on the node keep working.
  std::string after_log = read_or_empty(log);
  INFO("attacker's log:\n" << after_log);
  for (int i = 0; i < 3; i++) {
    v1::ContainerConfig c;
    c.mutable_metadata()->set_name("after-" + std::to_string(i));
    c.mutable_image()->set_image(kTestImage);
    for (const char* arg : {"/bin/sh", "-c", "exit 7"}) c.add_command(arg);
    c.set_log_path("after-" + std::to_string(i) + ".log");
    std::string id;
    s = create_container(d, pod, c, &id);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    s = start_container(d, id);
    CHECK_MESSAGE(s.ok(), "start after the attack " << i << ": " << s.error_message());
    if (s.ok()) {
      CHECK(wait_until([&] { return container_status(d, id).state() == v1::CONTAINER_EXITED; }, 20s));
      CHECK(container_status(d, id).exit_code() == 7);
    }
    v1::ExecSyncResponse resp;
    s = exec_sync(d, attacker, {"/bin/sh", "-c", "echo alive"}, &resp, 10);
    CHECK_MESSAGE(s.ok(), "exec after the attack " << i << ": " << s.error_message());
    if (s.ok()) {
      CHECK(resp.exit_code() == 0);
      CHECK(resp.stdout() == "alive\n");
    }
  }

  const std::string text = read_or_empty(log);
  INFO("attacker's log:\n" << text);
  CHECK(count_lines(text, 0, "overwrote") == 0);
  CHECK_MESSAGE(sha256(init) == init_sha, "a container overwrote the host's vpcri-init");
  CHECK_MESSAGE(sha256(monitor) == monitor_sha, "a container overwrote the host's vpcri-monitor");
  CHECK(sha256(binary("VPCRI_INIT")) == init_sha);
}

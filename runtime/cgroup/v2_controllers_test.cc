// cgroup v2 with its controllers, for real: needs a host where /sys/fs/cgroup is cgroup2 alone
// with cpu, memory and pids enabled at the root, which this project's build machines are not,
// so it runs in the guest of tests/vm/run-in-vm.sh (meson suite 'vm', test vm-cgroup-v2-controllers).
// create() enables the controllers down the path; the kernel enforces the limits apply() writes;
// OOM kills are counted and watched through memory.events; stats come from the v2 files.
#include <doctest/doctest.h>
#include <sys/prctl.h>

#include <cstring>
#include <vector>

#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/freeze.h"
#include "runtime/cgroup/test_support.h"

using namespace vpcri::runtime::cgroup;
using namespace vpcri::runtime::cgroup::testing;
using vpcri::runtime::CgroupMode;

namespace {

CgroupRoot unified_root() {
  auto root = discover_cgroup_root();
  REQUIRE_MESSAGE(root.mode == CgroupMode::unified, "needs a cgroup-v2-only host: run it through tests/vm/run-in-vm.sh");
  return root;
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  for (std::string w; in >> w;)
    if (w == word) return true;
  return false;
}

void pause_forever() {
  for (;;) ::pause();
}

}  // namespace

TEST_CASE("v2 controllers: create enables them down the path; apply writes the limits") {
  auto root = unified_root();
  ScratchCgroupParent scratch(root);
  Cgroup cg(root, scratch.path() + "/pod/ctr");
  cg.create();
  for (const std::string& level : {root.unified_mount + scratch.path(), root.unified_mount + scratch.path() + "/pod"}) {
    CAPTURE(level);
    const std::string enabled = slurp(level + "/cgroup.subtree_control");
    for (const char* c : {"cpu", "memory", "pids", "io", "cpuset"}) CHECK_MESSAGE(has_word(enabled, c), enabled);
  }
  LinuxResources r;
  r.cpu_period = 50000;
  r.cpu_quota = 25000;
  r.cpu_shares = 1024;
  r.memory_limit_in_bytes = 32 << 20;
  r.pids_limit = 5;
  r.cpuset_cpus = "0";
  cg.apply(r);
  const std::string dir = cg.unified_dir();
  CHECK(trimmed(dir + "/cpu.max") == "25000 50000");
  CHECK(trimmed(dir + "/cpu.weight") == "39");
  CHECK(trimmed(dir + "/memory.max") == std::to_string(32 << 20));
  CHECK(trimmed(dir + "/pids.max") == "5");
  CHECK(trimmed(dir + "/cpuset.cpus") == "0");
  // Unset fields stay; -1 lifts a limit.
  LinuxResources lift;
  lift.memory_limit_in_bytes = -1;
  cg.apply(lift);
  CHECK(trimmed(dir + "/memory.max") == "max");
  CHECK(trimmed(dir + "/pids.max") == "5");
  cg.remove();
}

TEST_CASE("v2 controllers: pids.max stops forks; pids_current counts") {
  auto root = unified_root();
  ScratchCgroupParent scratch(root);
  Cgroup cg(root, scratch.path() + "/ctr");
  cg.create();
  LinuxResources r;
  r.pids_limit = 2;
  cg.apply(r);
  int result[2];
  REQUIRE(::pipe2(result, O_CLOEXEC) == 0);
  ScopedChild child([&] {
    // This process is one; one more fits, the third fork is refused.
    pid_t first = ::fork();
    if (first == 0) pause_forever();
    pid_t second = ::fork();
    if (second == 0) _exit(0);
    char verdict = (first > 0 && second < 0 && errno == EAGAIN) ? 'y' : 'n';
    [[maybe_unused]] auto n = ::write(result[1], &verdict, 1);
    pause_forever();
  });
  ::close(result[1]);
  cg.add_process(child.pid());
  child.release();
  char verdict = 0;
  REQUIRE(::read(result[0], &verdict, 1) == 1);
  ::close(result[0]);
  CHECK(verdict == 'y');
  auto s = cg.stats();
  REQUIRE(s.pids_current.has_value());
  CHECK(*s.pids_current == 2);
  CHECK(keyed_value(cg.unified_dir() + "/pids.events", "max") >= 1);
  cg.kill_all(SIGKILL);
  child.wait();
  REQUIRE(eventually([&] {
    reap_all();
    return cg.pids().empty();
  }));
  cg.remove();
}

TEST_CASE("v2 controllers: an allocation over memory.max is OOM-killed, counted and watched") {
  auto root = unified_root();
  ScratchCgroupParent scratch(root);
  Cgroup cg(root, scratch.path() + "/ctr");
  cg.create();
  LinuxResources r;
  r.memory_limit_in_bytes = 16 << 20;
  r.memory_swap_limit_in_bytes = 16 << 20;  // no swap on top: the limit is the limit
  cg.apply(r);
  REQUIRE(cg.oom_kill_count() == 0u);
  OomWatch watch = cg.watch_oom();
  ScopedChild hog([] {
    std::vector<char*> blocks;
    for (;;) {
      char* block = static_cast<char*>(std::malloc(1 << 20));
      if (!block) _exit(3);
      std::memset(block, 0x5a, 1 << 20);  // touch every page
      blocks.push_back(block);
    }
  });
  cg.add_process(hog.pid());
  hog.release();
  int status = hog.wait(std::chrono::seconds(60));
  REQUIRE(status != -1);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  CHECK(cg.oom_kill_count() == 1u);
  CHECK(readable(watch.fd(), std::chrono::seconds(5)));
  CHECK(watch.consume());
  cg.remove();
}

TEST_CASE("v2 controllers: the freezer stops and resumes the subtree; stats read the v2 files") {
  auto root = unified_root();
  ScratchCgroupParent scratch(root);
  Cgroup cg(root, scratch.path() + "/ctr");
  cg.create();
  auto child = ScopedChild::exec({"sh", "-c", "while :; do :; done"});
  cg.add_process(child.pid());
  {
    FreezeGuard frozen(FreezeGuard::Kind::v2_core, cg.unified_dir(), std::chrono::seconds(10));
    CHECK(frozen.engaged());
    CHECK(frozen.confirmed());
    CHECK(keyed_value(cg.unified_dir() + "/cgroup.events", "frozen") == 1);
  }
  CHECK(keyed_value(cg.unified_dir() + "/cgroup.events", "frozen") == 0);
  CHECK(eventually([&] { return cg.stats().cpu_usage_ns.value_or(0) > 0; }, std::chrono::seconds(30)));
  auto s = cg.stats();
  CHECK(s.memory_usage_bytes.value_or(0) > 0);
  CHECK(s.memory_working_set_bytes.has_value());
  CHECK(s.pids_current == 1u);
  cg.kill_all(SIGKILL);
  child.wait();
  cg.remove();
}

TEST_CASE("v2 controllers: a cgroup below one that holds processes (an exec's) can be made and joined") {
  // cgroup2's rule: a non-root cgroup holds processes or enables controllers for its children,
  // never both. The container's cgroup holds its processes, so the exec's cgroup below it gets
  // no controllers of its own (the container's limits still cover it) and must take processes.
  auto root = unified_root();
  ScratchCgroupParent scratch(root);
  Cgroup container(root, scratch.path() + "/ctr");
  container.create();
  LinuxResources r;
  r.memory_limit_in_bytes = 64 << 20;
  container.apply(r);
  auto main = ScopedChild::exec({"sleep", "1000"});
  container.add_process(main.pid());

  Cgroup exec(root, scratch.path() + "/ctr/exec-1");
  exec.create();
  CHECK(trimmed(container.unified_dir() + "/cgroup.subtree_control").empty());
  auto joiner = ScopedChild::exec({"sleep", "1000"});
  exec.add_process(joiner.pid());
  CHECK(exec.pids() == std::vector<pid_t>{joiner.pid()});
  CHECK(container.pids().size() == 2);

  exec.kill_all(SIGKILL);
  joiner.wait();
  exec.remove();
  container.kill_all(SIGKILL);
  main.wait();
  container.remove();
}

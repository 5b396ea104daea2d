// cgroup v2 for real, on the host's cgroup2 mount (hybrid: /sys/fs/cgroup/unified, which has no
// controllers here, so no controller is enabled: the host root's subtree_control is never
// written). Covers create, add_process, pids, kill_all (cgroup.kill and freeze), CPU stats,
// remove. The controller files themselves are checked in v2_fake_test.cc.
#include <doctest/doctest.h>
#include <sys/prctl.h>

#include <ctime>

#include "common/error.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/test_support.h"

using namespace vpcri::runtime::cgroup;
using namespace vpcri::runtime::cgroup::testing;
using vpcri::Error;
using vpcri::runtime::CgroupMode;

namespace {

// The host's cgroup2 tree used as a unified-mode root, with no controllers requested.
CgroupRoot host_v2_root() {
  auto host = discover_cgroup_root();
  REQUIRE_MESSAGE(!host.unified_mount.empty(), "these tests need a cgroup2 mount (hybrid or unified host)");
  CgroupRoot root;
  root.mode = CgroupMode::unified;
  root.unified_mount = host.unified_mount;
  root.v2_controllers.clear();
  return root;
}

void pause_forever() {
  for (;;) ::pause();
}

std::string unified_line(pid_t pid) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/cgroup"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return {};
}

}  // namespace

TEST_CASE("v2: create, move a process in, list it, remove") {
  auto root = host_v2_root();
  ScratchCgroupParent scratch(root);
  Cgroup cg(root, scratch.path() + "/pod/ctr");
  cg.create();
  REQUIRE(std::filesystem::is_directory(root.unified_mount + scratch.path() + "/pod/ctr"));
  CHECK(cg.directories() == std::vector<std::string>{root.unified_mount + scratch.path() + "/pod/ctr"});

  auto child = ScopedChild::exec({"sleep", "1000"});
  cg.add_process(child.pid());
  CHECK(unified_line(child.pid()) == cg.path());
  CHECK(cg.pids() == std::vector<pid_t>{child.pid()});

  cg.kill_all(SIGKILL);
  int status = child.wait();
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  cg.remove();
  CHECK_FALSE(std::filesystem::exists(cg.unified_dir()));
  CHECK(std::filesystem::exists(root.unified_mount + scratch.path() + "/pod"));  // only the handle's own cgroup goes
}

TEST_CASE("v2: kill_all uses cgroup.kill for SIGKILL and the freezer for other signals") {
  auto root = host_v2_root();
  ScratchCgroupParent scratch(root);
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  Cgroup cg(root, scratch.path() + "/ctr");
  Cgroup nested(root, scratch.path() + "/ctr/nested");
  cg.create();
  nested.create();
  // cgroup.kill is in the kernel since 5.14; this test is about using it when it is there.
  REQUIRE(std::filesystem::exists(cg.unified_dir() + "/cgroup.kill"));

  auto family = [] {
    for (int i = 0; i < 3; ++i)
      if (::fork() == 0) pause_forever();
    pause_forever();
  };
  // With no controller enabled, a cgroup and its child may both hold processes (the
  // no-internal-process rule is about domain controllers).
  for (int sig : {SIGKILL, SIGTERM}) {
    CAPTURE(sig);
    ScopedChild parent(family), inner(family);
    cg.add_process(parent.pid());
    nested.add_process(inner.pid());
    parent.release();
    inner.release();
    REQUIRE(eventually([&] { return cg.pids().size() == 8; }));

    cg.kill_all(sig);
    int status = parent.wait();
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == sig));
    status = inner.wait();
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == sig));
    CHECK(eventually([&] {
      reap_all();
      return cg.pids().empty();
    }));
    CHECK(trimmed(cg.unified_dir() + "/cgroup.freeze") == "0");
  }
  cg.remove();
  CHECK_FALSE(std::filesystem::exists(nested.unified_dir()));
  CHECK_FALSE(std::filesystem::exists(cg.unified_dir()));
}

TEST_CASE("v2: CPU usage comes from cpu.stat even without the cpu controller") {
  auto root = host_v2_root();
  ScratchCgroupParent scratch(root);
  Cgroup cg(root, scratch.path() + "/ctr");
  cg.create();
  int done[2];
  REQUIRE(::pipe2(done, O_CLOEXEC) == 0);
  ScopedChild child([&] {
    timespec ts{};
    do {
      ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    } while (ts.tv_sec == 0 && ts.tv_nsec < 300'000'000);
    [[maybe_unused]] auto n = ::write(done[1], "x", 1);
    pause_forever();
  });
  ::close(done[1]);
  cg.add_process(child.pid());
  child.release();
  char c;
  REQUIRE(::read(done[0], &c, 1) == 1);
  ::close(done[0]);
  auto s = cg.stats();
  REQUIRE(s.cpu_usage_ns.has_value());
  CHECK(*s.cpu_usage_ns >= 250'000'000u);
}

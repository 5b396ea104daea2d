// cgroup v2 controller files, written into a fake cgroupfs (plain files in a temp dir): this
// host's cgroup2 tree has no controllers, so exact contents are checked here instead.
#include <doctest/doctest.h>

#include "common/error.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/test_support.h"

using namespace vpcri::runtime::cgroup;
using vpcri::Errc;
using vpcri::Error;
using vpcri::runtime::CgroupMode;
using testing::FakeTree;

namespace {

const char* kAll = "cpuset cpu io memory hugetlb pids\n";

// The interface files of a v2 cgroup with every controller, at their kernel defaults.
void put_v2_cgroup(const FakeTree& t, const std::string& dir, const std::string& controllers = kAll) {
  const std::pair<const char*, std::string> files[] = {
      {"cgroup.controllers", controllers},
      {"cgroup.subtree_control", ""},
      {"cgroup.procs", ""},
      {"cgroup.events", "populated 0\nfrozen 0\n"},
      {"cpu.weight", "100\n"},
      {"cpu.max", "max 100000\n"},
      {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"},
      {"memory.max", "max\n"},
      {"memory.swap.max", "max\n"},
      {"memory.high", "max\n"},
      {"memory.current", "0\n"},
      {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"},
      {"pids.max", "max\n"},
      {"pids.current", "0\n"},
      {"cpuset.cpus", "\n"},
      {"cpuset.mems", "\n"},
      {"hugetlb.2MB.max", "max\n"},
      {"hugetlb.1GB.max", "max\n"},
  };
  for (const auto& [name, content] : files) t.put(dir + "/" + name, content);
}

CgroupRoot fake_root(const FakeTree& t) {
  CgroupRoot root;
  root.mode = CgroupMode::unified;
  root.unified_mount = t.root();
  return root;
}

}  // namespace

TEST_CASE("v2 create enables the offered controllers on every level above the cgroup") {
  FakeTree t;
  put_v2_cgroup(t, ".");
  put_v2_cgroup(t, "kubepods");
  t.put("kubepods/cgroup.subtree_control", "cpu memory\n");  // partly enabled already
  put_v2_cgroup(t, "kubepods/pod1", "cpu memory pids\n");     // offers only three
  put_v2_cgroup(t, "kubepods/pod1/ctr");

  Cgroup cg(fake_root(t), "/kubepods/pod1/ctr");
  cg.create();
  CHECK(t.get("cgroup.subtree_control") == "+cpu +cpuset +io +memory +hugetlb +pids");
  CHECK(t.get("kubepods/cgroup.subtree_control") == "+cpuset +io +hugetlb +pids");
  CHECK(t.get("kubepods/pod1/cgroup.subtree_control") == "+cpu +memory +pids");
  CHECK(t.get("kubepods/pod1/ctr/cgroup.subtree_control").empty());  // the leaf keeps its processes
}

TEST_CASE("v2 create enables nothing at or below a level that holds processes (an exec's cgroup)") {
  FakeTree t;
  put_v2_cgroup(t, ".");
  put_v2_cgroup(t, "pod");
  put_v2_cgroup(t, "pod/ctr");
  t.put("pod/ctr/cgroup.procs", "42\n43\n");  // the container's processes
  Cgroup(fake_root(t), "/pod/ctr/exec-1").create();
  CHECK(std::filesystem::is_directory(t.root() + "/pod/ctr/exec-1"));
  CHECK(t.get("pod/cgroup.subtree_control") == "+cpu +cpuset +io +memory +hugetlb +pids");
  CHECK(t.get("pod/ctr/cgroup.subtree_control").empty());
}

TEST_CASE("v2 create with no wanted controllers writes no subtree_control") {
  FakeTree t;
  put_v2_cgroup(t, ".");
  t.put("cgroup.subtree_control", "untouched");
  auto root = fake_root(t);
  root.v2_controllers.clear();
  Cgroup(root, "/a/b").create();
  CHECK(std::filesystem::is_directory(t.root() + "/a/b"));
  CHECK(t.get("cgroup.subtree_control") == "untouched");
}

TEST_CASE("v2 apply writes each controller file, and live updates change only what is set") {
  FakeTree t;
  put_v2_cgroup(t, "pod/ctr");
  Cgroup cg(fake_root(t), "/pod/ctr");

  LinuxResources r;
  r.cpu_shares = 1024;
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  r.memory_limit_in_bytes = 256 << 20;
  r.memory_swap_limit_in_bytes = 512 << 20;
  r.pids_limit = 100;
  r.cpuset_cpus = "0-1";
  r.cpuset_mems = "0";
  r.hugepage_limits = {{"2MB", 4 << 20}};
  r.unified = {{"memory.high", "200000000"}};
  cg.apply(r);
  CHECK(t.get("pod/ctr/cpu.weight") == "39");
  CHECK(t.get("pod/ctr/cpu.max") == "50000 100000");
  CHECK(t.get("pod/ctr/memory.max") == "268435456");
  CHECK(t.get("pod/ctr/memory.swap.max") == "268435456");  // 512Mi memory+swap - 256Mi memory
  CHECK(t.get("pod/ctr/pids.max") == "100");
  CHECK(t.get("pod/ctr/cpuset.cpus") == "0-1");
  CHECK(t.get("pod/ctr/cpuset.mems") == "0");
  CHECK(t.get("pod/ctr/hugetlb.2MB.max") == "4194304");
  CHECK(t.get("pod/ctr/hugetlb.1GB.max") == "max\n");
  CHECK(t.get("pod/ctr/memory.high") == "200000000");

  LinuxResources update;
  update.cpu_shares = 2;
  update.cpu_quota = -1;
  update.cpu_period = 50000;
  update.pids_limit = -1;
  cg.apply(update);
  CHECK(t.get("pod/ctr/cpu.weight") == "1");
  CHECK(t.get("pod/ctr/cpu.max") == "max 50000");
  CHECK(t.get("pod/ctr/pids.max") == "max");
  CHECK(t.get("pod/ctr/memory.max") == "268435456");  // not in the update: untouched
  CHECK(t.get("pod/ctr/memory.high") == "200000000");

  LinuxResources no_swap;  // kubelet's NoSwap: memory+swap == memory
  no_swap.memory_limit_in_bytes = 128 << 20;
  no_swap.memory_swap_limit_in_bytes = 128 << 20;
  cg.apply(no_swap);
  CHECK(t.get("pod/ctr/memory.max") == "134217728");
  CHECK(t.get("pod/ctr/memory.swap.max") == "0");

  LinuxResources unlimited;
  unlimited.memory_limit_in_bytes = -1;
  cg.apply(unlimited);
  CHECK(t.get("pod/ctr/memory.max") == "max");
  CHECK(t.get("pod/ctr/memory.swap.max") == "max");
}

TEST_CASE("v2 apply refuses a bad request before writing anything") {
  FakeTree t;
  put_v2_cgroup(t, "ctr");
  Cgroup cg(fake_root(t), "/ctr");
  LinuxResources r;
  r.cpu_shares = 1024;
  r.unified = {{"cgroup.procs", "1"}};
  CHECK_THROWS_AS(cg.apply(r), Error);
  CHECK(t.get("ctr/cpu.weight") == "100\n");
  CHECK(t.get("ctr/cgroup.procs").empty());

  LinuxResources swap_without_memory;
  swap_without_memory.cpu_shares = 1024;
  swap_without_memory.memory_swap_limit_in_bytes = 1 << 20;
  try {
    cg.apply(swap_without_memory);
    FAIL("a swap limit without a memory limit must be refused");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::invalid_argument);
  }
  CHECK(t.get("ctr/cpu.weight") == "100\n");
}

TEST_CASE("v2 apply names the missing file of a controller that is not enabled") {
  FakeTree t;
  put_v2_cgroup(t, "ctr", "cpu\n");
  std::filesystem::remove(t.root() + "/ctr/pids.max");
  std::filesystem::remove(t.root() + "/ctr/hugetlb.2MB.max");
  Cgroup cg(fake_root(t), "/ctr");
  LinuxResources r;
  r.pids_limit = 10;
  try {
    cg.apply(r);
    FAIL("writing a missing controller file must fail");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::failed_precondition);
    CHECK(std::string(e.what()).find(t.root() + "/ctr/pids.max") != std::string::npos);
  }
  // Hugepage limits are skipped, not an error, when the cgroup does not offer hugetlb.
  LinuxResources huge;
  huge.hugepage_limits = {{"2MB", 0}};
  CHECK_NOTHROW(cg.apply(huge));
  CHECK_FALSE(std::filesystem::exists(t.root() + "/ctr/hugetlb.2MB.max"));
}

TEST_CASE("v2 stats are read the way cAdvisor computes them") {
  FakeTree t;
  put_v2_cgroup(t, "ctr");
  t.put("ctr/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  t.put("ctr/memory.current", "1000000\n");
  t.put("ctr/memory.stat", "anon 300000\nfile 600000\ninactive_file 400000\npgfault 77\npgmajfault 3\n");
  t.put("ctr/pids.current", "4\n");
  auto s = Cgroup(fake_root(t), "/ctr").stats();
  CHECK(s.cpu_usage_ns == 1500000u);
  CHECK(s.memory_usage_bytes == 1000000u);
  CHECK(s.memory_working_set_bytes == 600000u);
  CHECK(s.memory_rss_bytes == 300000u);
  CHECK(s.page_faults == 77u);
  CHECK(s.major_page_faults == 3u);
  CHECK(s.pids_current == 4u);
  CHECK(Cgroup(fake_root(t), "/ctr").pids_current() == 4u);  // pids.current alone

  // inactive_file above usage (stats are not read atomically): working set floors at 0.
  t.put("ctr/memory.stat", "inactive_file 2000000\n");
  std::filesystem::remove(t.root() + "/ctr/pids.current");
  s = Cgroup(fake_root(t), "/ctr").stats();
  CHECK(s.memory_working_set_bytes == 0u);
  CHECK_FALSE(s.pids_current.has_value());
  CHECK_FALSE(Cgroup(fake_root(t), "/ctr").pids_current().has_value());
  CHECK_FALSE(s.memory_rss_bytes.has_value());
}

TEST_CASE("v2 OOM kills are counted from memory.events and watched with inotify") {
  FakeTree t;
  put_v2_cgroup(t, "ctr");
  Cgroup cg(fake_root(t), "/ctr");
  CHECK(cg.oom_kill_count() == 0u);
  auto watch = cg.watch_oom();
  CHECK_FALSE(watch.consume());
  CHECK_FALSE(testing::readable(watch.fd(), std::chrono::milliseconds(0)));
  t.put("ctr/memory.events", "low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\noom_group_kill 0\n");
  CHECK(testing::readable(watch.fd(), std::chrono::seconds(2)));
  CHECK(watch.consume());
  CHECK_FALSE(watch.consume());
  CHECK(cg.oom_kill_count() == 2u);

  std::filesystem::remove(t.root() + "/ctr/memory.events");
  CHECK_FALSE(cg.oom_kill_count().has_value());  // no memory controller
}

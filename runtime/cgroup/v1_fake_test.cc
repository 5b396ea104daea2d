// cgroup v1 writes this host cannot show for real (no hugetlb hierarchy, no swap), and the
// v1 stats / OOM arithmetic, against a fake cgroupfs of plain files.
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

CgroupRoot fake_v1_root(const FakeTree& t, bool with_hugetlb) {
  CgroupRoot root;
  root.mode = CgroupMode::legacy;
  root.v2_controllers.clear();
  for (const char* c : {"cpu", "cpuacct", "memory", "pids"}) root.v1_mounts[c] = t.root() + "/" + c;
  if (with_hugetlb) root.v1_mounts["hugetlb"] = t.root() + "/hugetlb";
  return root;
}

}  // namespace

TEST_CASE("v1 hugepage limits go to hugetlb.<size>.limit_in_bytes") {
  FakeTree t;
  t.put("hugetlb/ctr/hugetlb.2MB.limit_in_bytes", "9223372036854771712\n");
  t.put("hugetlb/ctr/hugetlb.1GB.limit_in_bytes", "9223372036854771712\n");
  Cgroup cg(fake_v1_root(t, true), "/ctr");
  LinuxResources r;
  r.hugepage_limits = {{"2MB", 4 << 20}, {"1GB", 0}};
  cg.apply(r);
  CHECK(t.get("hugetlb/ctr/hugetlb.2MB.limit_in_bytes") == "4194304");
  CHECK(t.get("hugetlb/ctr/hugetlb.1GB.limit_in_bytes") == "0");

  // Without a hugetlb hierarchy the limits are skipped (as containerd does), not an error.
  CHECK_NOTHROW(Cgroup(fake_v1_root(t, false), "/ctr").apply(r));
}

TEST_CASE("v1 refuses what it cannot enforce") {
  FakeTree t;
  t.put("memory/ctr/memory.limit_in_bytes", "9223372036854771712\n");  // no memory.memsw.*: no swap accounting
  t.put("cpu/ctr/cpu.cfs_quota_us", "-1\n");
  Cgroup cg(fake_v1_root(t, false), "/ctr");

  LinuxResources swap;
  swap.memory_limit_in_bytes = 1 << 20;
  swap.memory_swap_limit_in_bytes = 2 << 20;
  try {
    cg.apply(swap);
    FAIL("a swap limit without swap accounting must fail");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::failed_precondition);
    CHECK(std::string(e.what()).find("swapaccount=1") != std::string::npos);
  }
  LinuxResources unified;
  unified.unified = {{"memory.high", "1"}};
  CHECK_THROWS_AS(cg.apply(unified), Error);

  LinuxResources no_cpuset;
  no_cpuset.cpuset_cpus = "0";
  try {
    cg.apply(no_cpuset);
    FAIL("cpuset_cpus without a cpuset hierarchy must fail");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::failed_precondition);
    CHECK(std::string(e.what()).find("\"cpuset\" hierarchy") != std::string::npos);
  }

  LinuxResources unlimited;
  unlimited.cpu_quota = -1;
  unlimited.memory_limit_in_bytes = -1;
  cg.apply(unlimited);
  CHECK(t.get("cpu/ctr/cpu.cfs_quota_us") == "-1");
  CHECK(t.get("memory/ctr/memory.limit_in_bytes") == "-1");
}

TEST_CASE("v1 stats use the hierarchical memory.stat totals") {
  FakeTree t;
  t.put("cpuacct/ctr/cpuacct.usage", "123456789\n");
  t.put("memory/ctr/memory.usage_in_bytes", "10000000\n");
  t.put("memory/ctr/memory.stat",
        "cache 1\nrss 2\ninactive_file 3\npgfault 4\ntotal_cache 5000000\ntotal_rss 4000000\n"
        "total_inactive_file 2500000\ntotal_pgfault 900\ntotal_pgmajfault 7\n");
  t.put("pids/ctr/pids.current", "3\n");
  auto s = Cgroup(fake_v1_root(t, false), "/ctr").stats();
  CHECK(s.cpu_usage_ns == 123456789u);
  CHECK(s.memory_usage_bytes == 10000000u);
  CHECK(s.memory_working_set_bytes == 7500000u);
  CHECK(s.memory_rss_bytes == 4000000u);
  CHECK(s.page_faults == 900u);
  CHECK(s.major_page_faults == 7u);
  CHECK(s.pids_current == 3u);
  CHECK(Cgroup(fake_v1_root(t, false), "/ctr").pids_current() == 3u);  // pids.current alone
}

TEST_CASE("v1 OOM kills are summed over the cgroup's subtree") {
  FakeTree t;
  t.put("memory/ctr/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  t.put("memory/ctr/sub/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  Cgroup cg(fake_v1_root(t, false), "/ctr");
  CHECK(cg.oom_kill_count() == 3u);
  t.put("memory/ctr/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");  // kernel < 4.13
  CHECK_FALSE(cg.oom_kill_count().has_value());
}

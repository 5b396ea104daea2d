// cgroup v1 for real: every test works under its own /sys/fs/cgroup/<hierarchy>/vpcri-test-<hex>
// (ScratchCgroupParent), which is emptied and removed even when a check fails.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "common/error.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/test_support.h"

using namespace vpcri::runtime::cgroup;
using namespace vpcri::runtime::cgroup::testing;
using vpcri::Errc;
using vpcri::Error;
using vpcri::runtime::CgroupMode;

namespace {

CgroupRoot host_v1_root() {
  auto root = discover_cgroup_root();
  REQUIRE_MESSAGE(root.mode != CgroupMode::unified, "these tests need a host with cgroup v1 controllers");
  return root;
}

// /proc/<pid>/cgroup as controller -> path ("" for the cgroup2 line).
std::map<std::string, std::string> proc_cgroups(pid_t pid) {
  std::map<std::string, std::string> out;
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/cgroup"));
  for (std::string line; std::getline(in, line);) {
    auto first = line.find(':'), second = line.find(':', first + 1);
    std::string controllers = line.substr(first + 1, second - first - 1), path = line.substr(second + 1);
    if (controllers.empty()) out[""] = path;
    std::istringstream names(controllers);
    for (std::string name; std::getline(names, name, ',');) out[name] = path;
  }
  return out;
}

void pause_forever() {
  for (;;) ::pause();
}

void burn_cpu(double seconds) {
  timespec ts{};
  do {
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  } while (static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9 < seconds);
}

// Touches `bytes` of fresh anonymous memory so it is charged to the caller's memory cgroup.
void touch_memory(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) ::_exit(3);
  std::memset(p, 0x5a, bytes);
}

bool has_memsw(const Cgroup& cg) {
  return std::filesystem::exists(cg.controller_dir("memory") + "/memory.memsw.limit_in_bytes");
}

}  // namespace

TEST_CASE("v1: create, apply limits, read them back, update them live") {
  auto root = host_v1_root();
  ScratchCgroupParent scratch(root);
  Cgroup cg(root, scratch.path() + "/pod/ctr");
  cg.create();
  CHECK(cg.exists());
  for (const auto& dir : cg.directories()) CHECK(std::filesystem::is_directory(dir));
  if (root.mode == CgroupMode::hybrid) CHECK(std::filesystem::is_directory(cg.unified_dir()));

  // New cpusets inherit the parent's CPUs and memory nodes, or no task could join them.
  const std::string cpuset = cg.controller_dir("cpuset");
  REQUIRE(!cpuset.empty());
  const std::string host_cpus = trimmed(root.v1_mounts.at("cpuset") + "/cpuset.cpus");
  CHECK(!host_cpus.empty());
  CHECK(trimmed(cpuset + "/cpuset.cpus") == host_cpus);
  CHECK(trimmed(cpuset + "/cpuset.mems") == trimmed(root.v1_mounts.at("cpuset") + "/cpuset.mems"));
  CHECK(trimmed(root.v1_mounts.at("cpuset") + scratch.path() + "/pod/cpuset.cpus") == host_cpus);

  const std::string cpu = cg.controller_dir("cpu"), mem = cg.controller_dir("memory"), pids = cg.controller_dir("pids");
  const bool memsw = has_memsw(cg);
  LinuxResources r;
  r.cpu_shares = 512;
  r.cpu_period = 100000;
  r.cpu_quota = 50000;
  r.memory_limit_in_bytes = 64 << 20;
  if (memsw) r.memory_swap_limit_in_bytes = 64 << 20;
  r.pids_limit = 50;
  r.cpuset_cpus = "0";
  r.cpuset_mems = "0";
  cg.apply(r);
  CHECK(trimmed(cpu + "/cpu.shares") == "512");
  CHECK(trimmed(cpu + "/cpu.cfs_period_us") == "100000");
  CHECK(trimmed(cpu + "/cpu.cfs_quota_us") == "50000");
  CHECK(trimmed(mem + "/memory.limit_in_bytes") == "67108864");
  if (memsw) CHECK(trimmed(mem + "/memory.memsw.limit_in_bytes") == "67108864");
  CHECK(trimmed(pids + "/pids.max") == "50");
  CHECK(trimmed(cpuset + "/cpuset.cpus") == "0");
  CHECK(trimmed(cpuset + "/cpuset.mems") == "0");

  // Growing memory and memory+swap together needs memsw raised first; the kernel refuses
  // memory > memsw at any moment.
  LinuxResources grow;
  grow.cpu_shares = 1024;
  grow.cpu_quota = 150000;
  grow.memory_limit_in_bytes = 128 << 20;
  if (memsw) grow.memory_swap_limit_in_bytes = 128 << 20;
  cg.apply(grow);
  CHECK(trimmed(cpu + "/cpu.shares") == "1024");
  CHECK(trimmed(cpu + "/cpu.cfs_quota_us") == "150000");
  CHECK(trimmed(cpu + "/cpu.cfs_period_us") == "100000");
  CHECK(trimmed(mem + "/memory.limit_in_bytes") == "134217728");
  if (memsw) CHECK(trimmed(mem + "/memory.memsw.limit_in_bytes") == "134217728");
  CHECK(trimmed(pids + "/pids.max") == "50");  // not part of the update

  // Shrinking needs the opposite order.
  LinuxResources shrink;
  shrink.memory_limit_in_bytes = 32 << 20;
  if (memsw) shrink.memory_swap_limit_in_bytes = 32 << 20;
  shrink.pids_limit = -1;
  shrink.cpu_quota = -1;
  cg.apply(shrink);
  CHECK(trimmed(mem + "/memory.limit_in_bytes") == "33554432");
  if (memsw) CHECK(trimmed(mem + "/memory.memsw.limit_in_bytes") == "33554432");
  CHECK(trimmed(pids + "/pids.max") == "max");
  CHECK(trimmed(cpu + "/cpu.cfs_quota_us") == "-1");

  // The kernel's refusal comes back naming the file and the value.
  LinuxResources bad;
  bad.cpuset_cpus = "0-4095";
  try {
    cg.apply(bad);
    FAIL("an impossible cpuset must be refused");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::invalid_argument);
    CHECK(std::string(e.what()).find(cpuset + "/cpuset.cpus") != std::string::npos);
    CHECK(std::string(e.what()).find("0-4095") != std::string::npos);
  }
  CHECK(trimmed(cpuset + "/cpuset.cpus") == "0");

  cg.remove();
  for (const auto& dir : cg.directories()) CHECK_FALSE(std::filesystem::exists(dir));
}

TEST_CASE("v1: a process moved in shows up in /proc/<pid>/cgroup of every hierarchy") {
  auto root = host_v1_root();
  ScratchCgroupParent scratch(root);
  Cgroup cg(root, scratch.path() + "/ctr");
  cg.create();
  auto child = ScopedChild::exec({"sleep", "1000"});
  cg.add_process(child.pid());

  auto where = proc_cgroups(child.pid());
  for (const auto& [controller, mount] : root.v1_mounts) {
    CAPTURE(controller);
    CHECK(where[controller] == cg.path());
  }
  if (root.mode == CgroupMode::hybrid) CHECK(where[""] == cg.path());
  CHECK(cg.pids() == std::vector<pid_t>{child.pid()});

  try {
    cg.add_process(0x3ffffff0);  // above any pid_max: no such process
    FAIL("adding a missing process must fail");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
  }

  // A cgroup with a live process cannot be removed; the error says who is inside.
  try {
    cg.remove(std::chrono::milliseconds(50));
    FAIL("removing a busy cgroup must fail");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::failed_precondition);
    CHECK(std::string(e.what()).find(std::to_string(child.pid())) != std::string::npos);
  }
  CHECK(cg.exists());
}

TEST_CASE("v1: stats count the CPU and memory a process in the cgroup used") {
  auto root = host_v1_root();
  ScratchCgroupParent scratch(root);
  Cgroup cg(root, scratch.path() + "/ctr");
  cg.create();
  int done[2];
  REQUIRE(::pipe2(done, O_CLOEXEC) == 0);
  constexpr size_t kTouched = 16 << 20;
  ScopedChild child([&] {
    burn_cpu(0.3);
    touch_memory(kTouched);
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
  REQUIRE(s.memory_usage_bytes.has_value());
  CHECK(*s.memory_usage_bytes >= kTouched);
  REQUIRE(s.memory_rss_bytes.has_value());
  CHECK(*s.memory_rss_bytes >= kTouched);
  REQUIRE(s.memory_working_set_bytes.has_value());
  CHECK(*s.memory_working_set_bytes >= kTouched);
  CHECK(*s.memory_working_set_bytes <= *s.memory_usage_bytes);
  REQUIRE(s.page_faults.has_value());
  CHECK(*s.page_faults >= kTouched / 4096);
  CHECK(s.major_page_faults.has_value());
  CHECK(s.pids_current == 1u);
}

TEST_CASE("v1: a process allocating past the memory limit is OOM-killed and counted") {
  auto root = host_v1_root();
  ScratchCgroupParent scratch(root);
  Cgroup cg(root, scratch.path() + "/ctr");
  cg.create();
  LinuxResources r;
  r.memory_limit_in_bytes = 32 << 20;
  if (has_memsw(cg)) r.memory_swap_limit_in_bytes = 32 << 20;  // no escape into swap
  cg.apply(r);
  REQUIRE(cg.oom_kill_count() == 0u);
  auto watch = cg.watch_oom();
  CHECK_FALSE(watch.consume());

  // A plain SIGKILL is not an OOM kill.
  {
    ScopedChild victim([] { pause_forever(); });
    cg.add_process(victim.pid());
    victim.release();
    ::kill(victim.pid(), SIGKILL);
    int status = victim.wait();
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  }
  CHECK(cg.oom_kill_count() == 0u);
  CHECK_FALSE(watch.consume());

  ScopedChild hog([] {
    touch_memory(256 << 20);
    ::_exit(0);
  });
  cg.add_process(hog.pid());
  hog.release();
  int status = hog.wait();
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  CHECK(cg.oom_kill_count() == 1u);
  CHECK(readable(watch.fd(), std::chrono::seconds(5)));
  CHECK(watch.consume());
}

TEST_CASE("v1: kill_all signals every process of the subtree, then remove leaves nothing") {
  auto root = host_v1_root();
  ScratchCgroupParent scratch(root);
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);  // grandchildren come back to us for reaping
  Cgroup cg(root, scratch.path() + "/ctr");
  Cgroup nested(root, scratch.path() + "/ctr/nested");  // a container may make its own sub-cgroups
  cg.create();
  nested.create();

  auto family = [] {
    for (int i = 0; i < 3; ++i)
      if (::fork() == 0) pause_forever();
    pause_forever();
  };
  SUBCASE("SIGTERM through the freezer") {
    ScopedChild parent(family), inner(family);
    cg.add_process(parent.pid());
    nested.add_process(inner.pid());
    parent.release();
    inner.release();
    REQUIRE(eventually([&] { return cg.pids().size() == 8; }));

    cg.kill_all(SIGTERM);
    int status = parent.wait();
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM));
    status = inner.wait();
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM));
    CHECK(eventually([&] {
      reap_all();
      return cg.pids().empty();
    }));
    CHECK(trimmed(cg.controller_dir("freezer") + "/freezer.state") == "THAWED");
  }
  SUBCASE("SIGKILL") {
    ScopedChild parent(family), inner(family);
    cg.add_process(parent.pid());
    nested.add_process(inner.pid());
    parent.release();
    inner.release();
    REQUIRE(eventually([&] { return cg.pids().size() == 8; }));

    cg.kill_all(SIGKILL);
    int status = parent.wait();
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
    CHECK(eventually([&] {
      reap_all();
      return cg.pids().empty();
    }));
  }

  cg.remove();
  for (const auto& dir : cg.directories()) CHECK_FALSE(std::filesystem::exists(dir));
  for (const auto& dir : nested.directories()) CHECK_FALSE(std::filesystem::exists(dir));
  CHECK_NOTHROW(cg.remove());  // already gone: not an error
  CHECK_FALSE(cg.exists());
}

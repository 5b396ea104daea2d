// Helpers of the crash-consistency tests (crash_test.cc, crash_network_test.cc): a daemon started
// with a failpoint armed, kubelet's pod sync retried after a crash, and what a daemon left behind.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "tests/integration/daemon_fixture.h"
#include "tests/integration/pods.h"

namespace vpcri::test {

// Starts `d` with `config_yaml`; with `failpoint`, armed (VPCRI_FAILPOINT) for this start only.
void start_daemon(Daemon& d, const std::string& failpoint = "", const std::string& config_yaml = pods_config_yaml());

// The pod a crash test syncs (namespace "crash", its own PID namespace per container).
runtime::v1::PodSandboxConfig crash_pod_config(const std::string& name);

struct PodSyncOptions {
  bool with_container = true;  // a sleeping test-image container in the pod
  // Changes the pod's config (e.g. host ports) before RunPodSandbox.
  std::function<void(runtime::v1::PodSandboxConfig&)> configure;
  // Called with each READY pod the sync keeps (new or found); a failure ends the sync.
  std::function<grpc::Status(const std::string& pod_id)> on_ready;
  // Called before a pod is stopped (a dead one, or at the end with `remove`).
  std::function<void(const std::string& pod_id)> on_stopping;
};

// One kubelet sync of pod `name`, from whatever state the runtime holds: the pod READY (with its
// container RUNNING), then (with `remove`) stopped and removed. Stops at the first failed RPC.
// Every pod and container id seen goes into `seen_ids`.
grpc::Status sync_pod(Daemon& d, const std::string& name, bool remove, std::set<std::string>* seen_ids,
                      const PodSyncOptions& options = {});

// What a daemon left behind, by kind (mounts, dirs, cgroups, monitors, processes in an object's
// cgroup, e.g. a pause; all must be 0). With `only`, just what names it (an object id) in its
// path, cgroup or command line.
std::map<std::string, int> leftovers(Daemon& d, const std::set<std::string>& ids, const std::string& only = "");

// Ids of what the daemon's directories hold now (to look for their cgroups later).
void collect_ids(Daemon& d, std::set<std::string>* ids);

// The running vpcrid of `d` (its command line names the daemon's temp dir).
pid_t daemon_pid(Daemon& d);

// `name` from the environment as a number (long modes of the churn tests), else `fallback`.
int env_int(const char* name, int fallback);

struct ChurnResult {
  int cycles = 0;           // syncs that succeeded
  int kills = 0;            // SIGKILLs sent
  int failed_requests = 0;  // syncs that failed (and were retried)
  std::set<std::string> ids;
};

// `workers` threads run at least `cycles` successful syncs in all (`sync(worker, cycle, seen_ids)`,
// a failed one retried after 50 ms as kubelet does) while vpcrid is SIGKILLed `kills` times at
// random moments (no RPC is waited for) and started again by `restart`; they go on syncing until
// the last kill has landed.
ChurnResult run_churn(Daemon& d, int workers, int cycles, int kills,
                      const std::function<grpc::Status(int worker, int cycle, std::set<std::string>* seen_ids)>& sync,
                      const std::function<void()>& restart);

}  // namespace vpcri::test

#!/bin/bash
# vpcri vs containerd through the CRI, side by side. Run as root from anywhere:
#
#   bench/run.sh [--build DIR] [--runtimes containerd,vpcri] [--rounds N] [--results DIR] [--smoke]
#                [--quick] [--no-build]
#
# Per round and per runtime, everything is fresh and private: a network namespace
# (vpcri-bench-<runtime>-<pid>), a docker-registry inside it on its loopback serving the same
# busybox test image (tests/fixtures/images.py) and our pause image, a cpuacct cgroup the daemon
# is started in (so shims/monitors and everything they spawn are counted), pod cgroups under a
# parent of our own, and temp state dirs. The daemon is started with nsenter --net (not
# `ip netns exec`, which remounts /sys). Before it, vpcri-kernel-floor times a pod at the
# kernel's price (no runtime) in that namespace, and vpcri-grpc-floor the idle RSS of a bare gRPC
# server on vpcrid's libraries. Runtimes take turns going first (odd rounds in
# --runtimes order, even rounds reversed); the load average is logged. bench/build/vpcri-bench
# drives the daemon; bench/report.py renders bench/results/results.md and the latency plot.
# Everything created is removed on exit, also on failure. Nothing outside the namespaces is
# changed: no host routes, addresses or firewall rules.
set -euo pipefail
{  # parsed whole before it runs: editing this file during a run cannot break the run

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build
RUNTIMES=containerd,vpcri
ROUNDS=3
RESULTS=
SMOKE=0
NO_BUILD=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
    --runtimes) RUNTIMES=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --quick) SMOKE=2; shift ;;
    --no-build) NO_BUILD=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root (namespaces, cgroups, mounts)" >&2; exit 1; }

if [ $SMOKE = 1 ]; then
  LOAD_ARGS=(--pods 3 --warmup 1 --concurrency 2 --pods-per-worker 2 --steady-pods 3 --exec 5 --settle-ms 500
             --rpc-calls 5 --rpc-pods 2 --image-removes 2)
  FLOOR_ITERATIONS=5
  ROUNDS=1
elif [ $SMOKE = 2 ]; then  # quick: enough serial pods for a p50/p99 worth reading, one round, not committed
  LOAD_ARGS=(--pods 40 --warmup 3 --concurrency 8 --pods-per-worker 4 --steady-pods 5 --exec 10 --settle-ms 500
             --rpc-calls 30 --rpc-pods 5 --image-removes 10)
  FLOOR_ITERATIONS=20
  ROUNDS=1
else
  LOAD_ARGS=(--pods 100 --warmup 5 --concurrency 8,32 --pods-per-worker 4 --steady-pods 50 --exec 100
             --rpc-calls 100 --rpc-pods 10 --image-removes 20)
  FLOOR_ITERATIONS=100
fi
# RemoveImage samples: an image of the test registry that shares its layers with $IMAGE (a
# removal then deletes its config and manifests, as kubelet's image GC of a retagged image would).
REMOVE_IMAGE=docker.io/library/busybox:docker-list

log() { echo "run.sh: $*" >&2; }

# ---- dependencies, from Debian only ---------------------------------------------------------
need=()
for pkg in containerd runc containernetworking-plugins docker-registry skopeo gnuplot-nox; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2
fi

# ---- build ----------------------------------------------------------------------------------
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$SRC" >&2
targets=(bench/vpcri-bench bench/vpcri-kernel-floor bench/vpcri-grpc-floor bench/static-true)
[[ ,$RUNTIMES, == *,vpcri,* ]] && targets+=(cri/vpcrid pause/pause-image.tar)
all_targets=$(ninja -C "$BUILD" -t targets all 2>/dev/null | cut -d: -f1)
for t in vpcri-monitor vpcri-init; do
  p=$(grep -E "(^|/)$t\$" <<<"$all_targets" | head -1 || true)
  [ -n "$p" ] && [[ ,$RUNTIMES, == *,vpcri,* ]] && targets+=("$p")
done
[ $NO_BUILD = 1 ] || nice -n 10 ninja -C "$BUILD" -j2 "${targets[@]}" >&2
BENCH=$BUILD/bench/vpcri-bench
FLOOR=$BUILD/bench/vpcri-kernel-floor
GRPC_FLOOR=$BUILD/bench/vpcri-grpc-floor
STATIC_TRUE=$BUILD/bench/static-true
PAUSE_TAR=$BUILD/pause/pause-image.tar
[ -f "$PAUSE_TAR" ] || nice -n 10 ninja -C "$BUILD" -j2 pause/pause-image.tar >&2
VERSION=$(sed -n "s/^ *version: '\([^']*\)'.*/\1/p" "$SRC/meson.build" | head -1)
PAUSE_REF=localhost/vpcri/pause:$VERSION
IMAGE=docker.io/library/busybox:latest

# ---- cleanup of everything we create --------------------------------------------------------
TMP=$(mktemp -d /tmp/vpcri-bench6-XXXXXX)
chmod 755 "$TMP"
PIDS=()          # daemons and registries we started
NETNS=()         # namespaces we created
CGROUPS=()       # cgroup roots (relative, e.g. /vpcri-bench-containerd-123-r1) we created
RUN_CONTAINERD_EXISTED=0
[ -e /run/containerd ] && RUN_CONTAINERD_EXISTED=1

stop_pid() {  # SIGTERM, then SIGKILL after $2 seconds; by PID only
  local pid=$1 wait=${2:-10}
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq $((wait * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
}

cleanup_cgroup() {  # kill what is left in our cgroup tree (only our processes can be there), rmdir it
  local rel=$1 d pid
  for _ in 1 2 3; do
    for d in /sys/fs/cgroup/*"$rel"; do
      [ -d "$d" ] || continue
      for pid in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null || true
      done
    done
    sleep 0.3
    for d in /sys/fs/cgroup/*"$rel"; do
      [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    local left=0
    for d in /sys/fs/cgroup/*"$rel"; do [ -d "$d" ] && left=1; done
    [ $left = 0 ] && return 0
  done
  log "warning: could not remove cgroup $rel"
}

unmount_under() {  # every mount under $1, deepest first (our daemons' overlays, shm, netns pins)
  local root=$1 m
  for _ in 1 2 3; do
    local mounts
    mounts=$(awk -v r="$root/" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r | uniq)
    [ -z "$mounts" ] && return 0
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done <<<"$mounts"
  done
}

cleanup_round() {  # $1 daemon pid, $2 registry pid, $3 netns, $4 cgroup rel, $5 dir
  [ -n "$1" ] && stop_pid "$1" 20
  cleanup_cgroup "$4"
  [ -n "$2" ] && stop_pid "$2" 10
  unmount_under "$5"
  ip netns del "$3" 2>/dev/null || true
}

cleanup_all() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 10; done
  for cg in "${CGROUPS[@]}"; do cleanup_cgroup "$cg"; done
  unmount_under "$TMP"
  for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  if [ $RUN_CONTAINERD_EXISTED = 0 ]; then  # containerd's shims insist on /run/containerd/s
    rmdir /run/containerd/s /run/containerd 2>/dev/null
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup_all EXIT
trap 'exit 130' INT TERM

# ---- per-runtime setup ----------------------------------------------------------------------
start_registry() {  # $1 netns, $2 dir; sets REG_PID, REG_HOST
  local ns=$1 dir=$2
  nsenter --net=/run/netns/"$ns" python3 "$SRC/tests/fixtures/registry.py" serve --push-images \
    --ready-file "$dir/registry.json" >"$dir/registry.log" 2>&1 &
  REG_PID=$!
  PIDS+=("$REG_PID")
  for _ in $(seq 300); do [ -f "$dir/registry.json" ] && break; kill -0 $REG_PID || break; sleep 0.1; done
  [ -f "$dir/registry.json" ] || { cat "$dir/registry.log" >&2; log "registry did not start"; return 1; }
  REG_HOST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["registry_host"])' "$dir/registry.json")
  nsenter --net=/run/netns/"$ns" skopeo copy -q --dest-tls-verify=false \
    "oci-archive:$PAUSE_TAR" "docker://$REG_HOST/vpcri/pause:$VERSION" >&2
}

write_containerd_config() {  # $1 dir, $2 cgroup rel
  local d=$1
  mkdir -p "$d/root" "$d/state" "$d/opt" "$d/runc" "$d/cni/net.d" "$d/cni/ipam"
  # Private range, inside the namespace only. ptp would do as well; bridge is what most use.
  cat >"$d/cni/net.d/10-bench.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "vpcri-bench",
  "plugins": [
    {"type": "bridge", "bridge": "vbench0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$d/cni/ipam",
              "ranges": [[{"subnet": "10.213.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp",
                    "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.ttrpc.sock"
[debug]
  level = "warn"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_REF"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$d/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["http://$REG_HOST"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."localhost"]
    endpoint = ["http://$REG_HOST"]
EOF
}

write_vpcri_config() {  # $1 dir
  local d=$1
  mkdir -p "$d/root" "$d/state"
  {
    echo "log_level: warn"
    echo "registries:"
    echo "  docker.io: {mirrors: [\"http://$REG_HOST\"], skip_host: true}"
    echo "  localhost: {mirrors: [\"http://$REG_HOST\"], skip_host: true}"
    echo "images:"
    echo "  sandbox_image_archive: $PAUSE_TAR"
    # Pod networking as containerd's CNI gets it: a private range inside this namespace only (a
    # /22, as host-local's pool has every address ready too). The namespace has no uplink, so the
    # primary interface is named rather than found through a default route, and SNAT is off
    # (nothing leaves the namespace). minimum_ip_target keeps the whole pool warm, as a node sized
    # for this pod density would (MINIMUM_IP_TARGET), so bursts never find it empty.
    echo "network:"
    echo "  node_range: 10.214.0.0/22"
    echo "  max_enis: 16"
    echo "  ips_per_eni: 64"
    echo "  minimum_ip_target: 1000"
    echo "  mtu: 1500"
    echo "  primary_interface: lo"
    echo "  primary_ip: 127.0.0.1"
    echo "  external_snat: true"
    local monitor init
    monitor=$(find "$BUILD" -maxdepth 3 -type f -name vpcri-monitor -perm -u+x | head -1)
    init=$(find "$BUILD" -maxdepth 3 -type f -name vpcri-init -perm -u+x | head -1)
    if [ -n "$monitor" ] && [ -n "$init" ]; then
      echo "runtime:"
      echo "  monitor_path: $monitor"
      echo "  init_path: $init"
    fi
  } >"$d/config.yaml"
  "$BUILD/cri/vpcrid" --check-config --config "$d/config.yaml" >/dev/null
}

# ---- rounds ---------------------------------------------------------------------------------
mkdir -p "$TMP/results"
IFS=, read -ra RTS <<<"$RUNTIMES"
load_average() { cut -d' ' -f1-3 /proc/loadavg; }
scrape_metrics_cmd() {  # $1 netns: a command printing vpcrid's /metrics (its default port, inside the netns)
  printf '%s' "nsenter --net=/run/netns/$1 python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(\"http://127.0.0.1:61678/metrics\", timeout=10).read().decode())'"
}
log "load average at start: $(load_average)"
for round in $(seq "$ROUNDS"); do
  order=("${RTS[@]}")
  if [ $((round % 2)) = 0 ]; then  # even rounds in reverse: neither runtime always goes first
    order=()
    for ((i = ${#RTS[@]} - 1; i >= 0; i--)); do order+=("${RTS[i]}"); done
  fi
  for rt in "${order[@]}"; do
    tag=$rt-$$-r$round
    ns=vpcri-bench-$tag
    cg=/vpcri-bench-$tag
    dir=$TMP/$rt-r$round
    mkdir -p "$dir/logs"
    log "round $round: $rt (netns $ns), load average $(load_average)"
    ip netns add "$ns"
    NETNS+=("$ns")
    ip -n "$ns" link set lo up
    # The kernel's price of a pod on this machine now, next to the runtime's (its veths live
    # in this namespace and go with the pods' namespaces).
    nsenter --net=/run/netns/"$ns" "$FLOOR" --true "$STATIC_TRUE" --iterations "$FLOOR_ITERATIONS" \
      --out "$TMP/results/floor-$rt-r$round.json" || log "kernel floor failed"
    # And the idle RSS of a bare gRPC server on vpcrid's own libraries (no runtime).
    "$GRPC_FLOOR" --socket "$TMP/grpc-floor.sock" --out "$TMP/results/grpcfloor-$rt-r$round.json" ||
      log "gRPC floor failed"
    start_registry "$ns" "$dir"
    CGROUPS+=("$cg")
    mkdir -p "/sys/fs/cgroup/cpuacct$cg/daemon" "/sys/fs/cgroup/cpuacct$cg/pods"
    case $rt in
      containerd)
        write_containerd_config "$dir" "$cg"
        sock=$dir/containerd.sock
        helpers=containerd-shim-runc-v2,pause
        (echo "$BASHPID" >"/sys/fs/cgroup/cpuacct$cg/daemon/cgroup.procs"
         exec nsenter --net=/run/netns/"$ns" containerd --config "$dir/config.toml") >"$dir/daemon.log" 2>&1 &
        ;;
      vpcri)
        write_vpcri_config "$dir"
        sock=$dir/state/vpcri.sock
        helpers=vpcri-monitor,vpcri-init,pause
        (echo "$BASHPID" >"/sys/fs/cgroup/cpuacct$cg/daemon/cgroup.procs"
         exec nsenter --net=/run/netns/"$ns" "$BUILD/cri/vpcrid" --root "$dir/root" --state "$dir/state" \
           --socket "$sock" --config "$dir/config.yaml") >"$dir/daemon.log" 2>&1 &
        ;;
      *) log "unknown runtime $rt"; exit 2 ;;
    esac
    DPID=$!
    PIDS+=("$DPID")
    for _ in $(seq 300); do [ -S "$sock" ] && break; kill -0 $DPID || break; sleep 0.1; done
    [ -S "$sock" ] || { tail -20 "$dir/daemon.log" >&2; log "$rt did not start"; exit 1; }
    rc=0
    # vpcri: its phase histograms scraped right after the serial lifecycles too (bench/phases.py).
    after_serial=()
    [ "$rt" = vpcri ] && after_serial=(--after-serial "$(scrape_metrics_cmd "$ns") >'$TMP/results/$rt-serial-r$round.metrics.txt'")
    "$BENCH" --endpoint "unix://$sock" --name "$rt" --image "$IMAGE" --pull "$PAUSE_REF" \
      --daemon-pid "$DPID" --helpers "$helpers" --cpu-cgroup "/sys/fs/cgroup/cpuacct$cg/daemon" \
      --pod-cgroup "/sys/fs/cgroup/cpuacct$cg/pods" --remove-image "$REMOVE_IMAGE" \
      --timeout 30 --cgroup-parent "$cg/pods" --log-dir "$dir/logs" --out "$TMP/results/$rt-r$round.json" \
      "${LOAD_ARGS[@]}" "${after_serial[@]}" || rc=$?
    [ $rc = 0 ] || { log "$rt round $round: vpcri-bench exited $rc; daemon log tail:"; tail -20 "$dir/daemon.log" >&2; }
    if [ "$rt" = vpcri ]; then
      # The pod start path's phases (vpcri_operation_phase_seconds), from vpcrid's default metrics port.
      eval "$(scrape_metrics_cmd "$ns")" >"$TMP/results/$rt-r$round.metrics.txt" || log "could not scrape vpcrid's /metrics"
    fi
    cleanup_round "$DPID" "$REG_PID" "$ns" "$cg" "$dir"
    rm -rf "$dir"
  done
done

# ---- report ---------------------------------------------------------------------------------
log "load average at the end: $(load_average)"
runc_version=$(runc --version 2>/dev/null | head -1 || true)
phase_table() {  # the pod start path's per-phase breakdown, when vpcri ran
  compgen -G "$TMP/results/vpcri-r*.metrics.txt" >/dev/null || return 0
  if compgen -G "$TMP/results/vpcri-serial-r*.metrics.txt" >/dev/null; then
    printf '\n## vpcri: where serial pod start time goes (mean per phase, the serial starts and their warm-ups)\n\n'
    python3 "$SRC/bench/phases.py" "$TMP/results"/vpcri-serial-r*.metrics.txt || true
  fi
  printf '\n## vpcri: where pod start time goes (mean per phase, all serial and concurrent starts)\n\n'
  python3 "$SRC/bench/phases.py" "$TMP/results"/vpcri-r*.metrics.txt || true  # a vpcrid without spans
}
if [ $SMOKE != 0 ]; then
  out=${RESULTS:-$TMP/report}
  python3 "$SRC/bench/report.py" --out "$out" --no-plot --runc "$runc_version" "$TMP/results"/*.json
  phase_table >>"$out/results.md"
  cat "$out/results.md"
  [ $SMOKE = 2 ] || python3 "$SRC/bench/report.py" --check "$TMP/results"/*.json
else
  out=${RESULTS:-$SRC/bench/results}
  python3 "$SRC/bench/report.py" --out "$out" --runc "$runc_version" "$TMP/results"/*.json
  phase_table >>"$out/results.md"
  log "wrote $out/results.md"
fi
exit 0
}

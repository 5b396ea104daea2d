#!/usr/bin/env bash
# The README's demo (.ci/demo --once) works as written, against a private socket and state, and
# leaves no mount, network namespace or process of its own behind.
set -euo pipefail
build_root=$1
source_root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/vpcri-demo-test.XXXXXX)
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
  # Never delete through a mount the demo may have left: report it instead.
  if grep -q " $dir" /proc/self/mountinfo; then
    echo "FAIL: mounts left under $dir:" >&2
    grep " $dir" /proc/self/mountinfo >&2
    exit 1
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

out=$(VPCRI_DEMO_DIR=$dir bash "$source_root/.ci/demo" --once "$build_root" 2>&1) || {
  echo "$out"
  fail "the demo failed"
}
echo "$out"
grep -q "^OK: the pod answered at 10\.88\.0\.[0-9]*, the address it sees itself at$" <<<"$out" ||
  fail "the demo did not reach the pod at its own IP"
grep -q "^OK: the request reached the pod from 192\.168\.251\.2, the sender's own address$" <<<"$out" ||
  fail "the pod did not see the sender's own address"
grep -q "^removed pod " <<<"$out" || fail "the demo did not remove its pod"
grep -q "^vpcrid stopped$" <<<"$out" || fail "the demo did not stop vpcrid"
demo_pid=$(sed -n 's/^== network namespaces vpcri-demo-\([0-9]*\)-node.*/\1/p' <<<"$out")
[ -n "$demo_pid" ] || fail "no namespace names in the demo's output"
! ip netns list | grep -q "vpcri-demo-$demo_pid-" || fail "the demo left its network namespaces"
! pgrep -f "vpcri-monitor --state $dir" >/dev/null || fail "the demo left container monitors running"
! pgrep -f -- "vpcrid --socket $dir/vpcri.sock" >/dev/null || fail "the demo left vpcrid running"
echo "demo OK"

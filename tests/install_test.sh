#!/usr/bin/env bash
# `meson install` with DESTDIR stages a complete, relocatable node-image layout.
set -euo pipefail
build_root=$1
stage=$(mktemp -d /tmp/vpcri-install-test.XXXXXX)
trap 'rm -rf "$stage"' EXIT

meson install -C "$build_root" --no-rebuild --quiet --destdir "$stage" >/dev/null
prefix=$(meson introspect "$build_root" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
p="$stage$prefix"
fail() { echo "FAIL: $*" >&2; exit 1; }
for f in bin/vpcrid bin/vpcrictl libexec/vpcri/pause libexec/vpcri/vpcri-monitor libexec/vpcri/vpcri-init; do
  [ -x "$p/$f" ] || fail "$f not installed as an executable"
done
[ -f "$p/libexec/vpcri/pause-image.tar" ] || fail "pause-image.tar not installed"
unit=$(find "$stage" -name vpcri.service)
[ -n "$unit" ] || fail "vpcri.service not installed"
grep -q "^Type=notify$" "$unit" || fail "unit is not Type=notify"
grep -q "^ExecStart=$prefix/bin/vpcrid$" "$unit" || fail "unit ExecStart does not point at the installed vpcrid"
grep -q "^KillMode=process$" "$unit" || fail "unit would kill containers on daemon restart"
config=$(find "$stage" -path '*/vpcri/config.yaml')
[ -n "$config" ] || fail "default config not installed"
"$p/bin/vpcrid" --check-config --config "$config" >/dev/null || fail "installed config does not validate"
"$p/bin/vpcrid" --help | grep -q -- "--config PATH" || fail "vpcrid --help"
echo "install layout OK under $prefix"

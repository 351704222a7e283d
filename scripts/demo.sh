#!/usr/bin/env bash
# The vnuma demo: builds the daemons, boots two Full vNUMA guests (QEMU TCG under libvirt) with
# the agent inside, starts the broker, runs a scripted load (A busy, then B, then both, then
# idle, then a memory burst in A), shows live who owns which pCPU, and writes
# results/<timestamp>/{timeline.json,timeline.png,summary.txt}. A few minutes on a 2-core host.
#
# Usage: scripts/demo.sh [--phase-seconds N]      (run scripts/install-deps.sh once before)
# Env:   VNUMA_BUILD_DIR (default build), VNUMA_JOBS (default nproc)
# Needs root (libvirtd, guest cgroups). Touches only the domains vnuma-demo-a and vnuma-demo-b.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
build=${VNUMA_BUILD_DIR:-build}
jobs=${VNUMA_JOBS:-$(nproc)}
[[ $(id -u) == 0 ]] || { echo "demo: run as root (libvirtd, QEMU, cgroups)" >&2; exit 1; }
for tool in cmake ninja virsh qemu-system-x86_64 busybox cpio; do
  command -v "$tool" >/dev/null || { echo "demo: '$tool' missing; run scripts/install-deps.sh first" >&2; exit 1; }
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo "demo: no guest kernel (/boot/vmlinuz-*); run scripts/install-deps.sh" >&2; exit 1; }

echo "== build ($build)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$jobs" --target vnuma-agent vnuma-broker vnumactl vnuma-load vnuma-e2e-peer

echo "== libvirt"
scripts/vm/host-setup.sh

# Where CMake put a target's binary (the tree layout is the build's business, not ours).
bin() {
  local f
  f=$(find "$build" -path "$build/*-work" -prune -o -type f -name "$1" -perm -u+x -print | head -1)
  [[ -n $f ]] || { echo "demo: $1 was not built in $build" >&2; exit 1; }
  echo "$f"
}
loadtool=$(bin vnuma-load)
agent=$(bin vnuma-agent)
broker=$(bin vnuma-broker)
ctl=$(bin vnumactl)
peer=$(bin vnuma-e2e-peer)
out=$here/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
echo "== demo (results in $out)"
status=0
/usr/bin/python3 tests/e2e/demo.py --out "$out" --work "$build/demo-work" \
  --loadtool "$loadtool" --agent "$agent" --broker "$broker" --ctl "$ctl" --peer "$peer" "$@" 2>&1 | tee "$out/demo.log" || status=$?
scripts/vm/down.sh vnuma-demo-a vnuma-demo-b >/dev/null 2>&1 || true
echo "== results: $out (timeline.json, timeline.png, summary.txt, demo.log)"
exit "$status"

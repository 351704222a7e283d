#!/usr/bin/env python3
"""e2e_kit (ctest label vm): the test-VM kit itself works on this host.

Boots two Full vNUMA guests (2 vCPUs x 2 guest nodes, virtio-mem per node, TCG) and checks:
guest NUMA topology, SMBIOS UUID = libvirt UUID, cgroup2, virtio-mem plug and unplug with
libvirt's <current> following, guest -> host TCP over QEMU user networking (busybox nc to a
listener on 127.0.0.1), per-vCPU time/delay (the vCPU threads' schedstat, checked against
`virsh domstats --vcpu`), and that our load tool drives both vCPUs. Always tears the guests down.
"""
import argparse
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmkit  # noqa: E402
from vmkit import KitError, log  # noqa: E402

NAMES = ["vnuma-e2e-a", "vnuma-e2e-b"]


class Failures:
    def __init__(self):
        self.items = []

    def check(self, ok, what):
        log(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.items.append(what)


def node_mem_kib(g, name, node):
    out = g.sh(name, f"cat /sys/devices/system/node/node{node}/meminfo")
    m = re.search(r"MemTotal:\s+(\d+) kB", out)
    if not m:
        raise KitError(f"{name}: no MemTotal in node{node}/meminfo: {out!r}")
    return int(m.group(1))


def check_guest(g, name, f):
    nodes = g.sh(name, "ls -d /sys/devices/system/node/node[0-9]* | wc -l").strip()
    f.check(nodes == "2", f"{name}: guest sees 2 NUMA nodes (got {nodes})")
    for node, cpus in ((0, "0"), (1, "1")):
        got = g.sh(name, f"cat /sys/devices/system/node/node{node}/cpulist").strip()
        f.check(got == cpus, f"{name}: guest node {node} has vCPU {cpus} (got {got!r})")
    uuid = g.sh(name, "cat /sys/class/dmi/id/product_uuid").strip().lower()
    f.check(uuid == vmkit.domain_uuid(name).lower(), f"{name}: SMBIOS UUID {uuid} is the libvirt domain UUID")
    f.check(" /sys/fs/cgroup cgroup2 " in g.sh(name, "cat /proc/mounts"), f"{name}: cgroup2 mounted at /sys/fs/cgroup")
    bound = g.sh(name, "ls /sys/bus/virtio/drivers/virtio_mem | grep -c '^virtio' || true").strip()
    f.check(bound == "2", f"{name}: virtio_mem bound to 2 devices (got {bound})")
    addr = g.sh(name, "ip -4 addr show eth0")
    f.check("10.0.2.15/24" in addr, f"{name}: eth0 has 10.0.2.15/24")


def check_guest_to_host(g, name, f):
    """busybox nc in the guest -> 10.0.2.2:P -> a listener of ours on 127.0.0.1:P."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(20)
    port = srv.getsockname()[1]
    got = []

    def accept():
        try:
            c, _ = srv.accept()
            c.settimeout(10)
            got.append(c.recv(100).decode(errors="replace"))
            c.close()
        except OSError as e:
            got.append(f"<{e}>")

    t = threading.Thread(target=accept)
    t.start()
    g.ctl.run(name, f"echo hello-from-{name} | nc 10.0.2.2 {port}", timeout=15, check=False)
    t.join(25)
    srv.close()
    text = got[0].strip() if got else "<nothing>"
    f.check(text == f"hello-from-{name}", f"{name}: guest reached 127.0.0.1:{port} via 10.0.2.2 (got {text!r})")


def check_virtio_mem(g, name, f):
    node, mib = 1, 128
    before = node_mem_kib(g, name, node)
    start = time.monotonic()
    vmkit.set_virtio_mem(name, node, mib)
    try:
        vmkit.wait_until(lambda: vmkit.virtio_mem(name)[node]["current"] == mib * 1024, 60,
                         f"{name} virtio-mem node {node} current = {mib} MiB")
        f.check(True, f"{name}: virtio-mem node {node} plugged {mib} MiB in {time.monotonic() - start:.1f}s (libvirt <current> followed)")
    except KitError as e:
        f.check(False, str(e))
        return
    grown = vmkit.wait_until(lambda: node_mem_kib(g, name, node) - before >= (mib - 4) * 1024, 20,
                             f"{name} node {node} MemTotal to grow", interval=0.5)
    f.check(bool(grown), f"{name}: guest node {node} MemTotal grew by ~{mib} MiB ({before} kB -> {node_mem_kib(g, name, node)} kB)")
    zoneinfo = g.sh(name, "cat /proc/zoneinfo")
    m = re.search(r"Node 1, zone\s+Movable.*?present\s+(\d+)", zoneinfo, re.S)
    f.check(bool(m) and int(m.group(1)) > 0, f"{name}: plugged memory is online in node 1's Movable zone")
    other = vmkit.virtio_mem(name)[0]["current"]
    f.check(other == 0, f"{name}: node 0 virtio-mem untouched (current {other} KiB)")
    start = time.monotonic()
    vmkit.set_virtio_mem(name, node, 0)
    try:
        vmkit.wait_until(lambda: vmkit.virtio_mem(name)[node]["current"] == 0, 60,
                         f"{name} virtio-mem node {node} current = 0")
        f.check(True, f"{name}: virtio-mem node {node} unplugged in {time.monotonic() - start:.1f}s")
    except KitError as e:
        f.check(False, str(e))
        return
    after = node_mem_kib(g, name, node)
    f.check(abs(after - before) <= 4096, f"{name}: guest node {node} MemTotal back to {after} kB (was {before} kB)")


def check_vcpu_stats_and_load(g, f):
    s0 = vmkit.vcpu_stats(NAMES)
    dom = vmkit._domstats(NAMES)
    for n in NAMES:
        ok = all(v in s0[n] and "time" in s0[n][v] and "delay" in s0[n][v] for v in (0, 1))
        f.check(ok, f"{n}: vCPU time and delay for vCPUs 0 and 1 from the host cgroups and /proc")
        # The same numbers as libvirt's vcpu.N.time/delay (read a moment later; time in 10 ms ticks).
        close = all(abs(dom[n][v][k] - s0[n][v][k]) < 5e8 for v in (0, 1) for k in ("time", "delay"))
        f.check(close, f"{n}: /proc schedstat agrees with domstats --vcpu: {s0[n]} vs {dom[n]}")
    name = NAMES[0]
    out = g.sh(name, "vnuma-load cpu --threads 2 --seconds 4 --spread", timeout=30)
    d = vmkit.vcpu_delta(s0, vmkit.vcpu_stats(NAMES))
    busy = {v: d[name][v]["time"] / 1e9 for v in (0, 1)}
    # The host is shared (other work may run), so the bounds are relative, not 4 s each.
    f.check(all(b >= 0.5 for b in busy.values()), f"{name}: load tool drove both vCPUs (vCPU seconds {busy}; {out.strip()})")
    idle = sum(d[NAMES[1]][v]["time"] for v in (0, 1)) / 1e9
    f.check(idle < 0.3 * sum(busy.values()), f"{NAMES[1]}: idle guest's vCPUs used {idle:.2f}s over the same window")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadtool", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    f = Failures()
    t0 = time.monotonic()
    try:
        with vmkit.Guests(NAMES, args.work, args.loadtool) as g:
            for n in NAMES:
                f.check(g.boot_seconds.get(n, 999) < 120, f"{n}: booted to the ready marker in {g.boot_seconds.get(n)}s")
                check_guest(g, n, f)
                check_guest_to_host(g, n, f)
            check_virtio_mem(g, NAMES[0], f)
            check_vcpu_stats_and_load(g, f)
    except KitError as e:
        f.check(False, f"kit error: {e}")
    left = [n for n in vmkit.virsh("list", "--all", "--name").split() if n in NAMES]
    f.check(not left, f"guests torn down (left: {left})")
    log(f"e2e_kit: {len(f.items)} failure(s) in {time.monotonic() - t0:.0f}s")
    for item in f.items:
        log(f"  - {item}")
    return 1 if f.items else 0


if __name__ == "__main__":
    sys.exit(main())

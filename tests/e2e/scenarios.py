#!/usr/bin/env python3
"""The vnuma end-to-end scenarios (issue 6) on real libvirt + QEMU guests, one per run:

  register   guests register; initial grants are disjoint and cover only managed pCPUs
  alone      load in A only: A gets every pCPU but B's floor; B's revoked vCPUs stay idle
  both       load in both: split follows weights; latency probe in A managed vs unmanaged
  memory     memory demand in A on guest node 1: virtio-mem grows, later shrinks, no overcommit
  restart    broker kill -9 and restart: nothing lost, no overlap, agents reconnect
  agentkill  agent killed in A: A stays confined; after the lease A keeps only its floor
  rogue      a process in A escaping its cpuset: host-side enforcement keeps B's wait low
  badpeer    wrong key / malformed agent messages: refused, logged, nothing changes

"No overlap at any sample" is checked from the host side in every scenario (timeline.py).
Usage: scenarios.py --scenario NAME --work DIR --loadtool BIN --agent BIN --broker BIN
                    --ctl BIN --peer BIN
Exit 0 when every check passed; the log says what was measured.
"""
import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker as brokermod  # noqa: E402
import timeline  # noqa: E402
import vmkit  # noqa: E402
from vmkit import KitError, log  # noqa: E402

A, B = "vnuma-e2e-a", "vnuma-e2e-b"


class Checks:
    def __init__(self):
        self.failures = []
        self.measured = {}

    def check(self, ok, what):
        log(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.failures.append(what)
        return ok

    def measure(self, key, value):
        self.measured[key] = value
        log(f"measured {key} = {value}")


class Env:
    """Guests A and B with the agent, the broker, and a host-side sampler; always torn down."""

    def __init__(self, args, checks, weights=(100, 100), manual_agent=False, start_broker=True, lease_ms=4000,
                 names=(A, B), on_sample=None):
        self.args, self.c = args, checks
        self.names = list(names)
        self.on_sample = on_sample
        self.manual_agent = manual_agent
        self.start_broker = start_broker
        self.broker = brokermod.Broker(args.work, args.broker, args.ctl, args.peer, lease_ms=lease_ms)
        extra = {n: f"--weight {w}" for n, w in zip(self.names, weights)}
        self.guests = vmkit.Guests(self.names, args.work, args.loadtool, agent=args.agent, extra=extra,
                                   agent_manual=manual_agent)
        self.sampler = None
        self.check_from = 0.0  # sampler time the overlap check starts at (end of the boot tail)

    def __enter__(self):
        try:
            for n in self.names:
                os.makedirs(self.guests.dir(n), exist_ok=True)
                self.broker.add_agent(self.guests.dir(n), vmkit.vm_uuid(n))
            # The broker connects to libvirtd at start: make it available first (idempotent; up.sh
            # does it again), so one scenario can run on its own on a fresh machine.
            vmkit.host_setup()
            if self.start_broker:
                self.broker.start()
            self.guests.up()
            self.sampler = timeline.Sampler(self.names, broker=self.broker, on_sample=self.on_sample).start()
            if self.start_broker and not self.manual_agent:
                self.wait_registered()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.sampler:
            self.sampler.stop()
            with open(os.path.join(self.args.work, "timeline.json"), "w") as f:
                json.dump(self.sampler.to_json({"measured": self.c.measured}), f)
        for n in self.names:
            if self.guests.ctl.connected(n):
                try:
                    with open(os.path.join(self.guests.dir(n), "agent.log"), "w") as f:
                        f.write(self.guests.agent_log(n))
                except (KitError, OSError):
                    pass
        self.guests.down()
        self.broker.stop()
        return False

    def mark(self):
        """(time, vCPU stats) read directly, not taken from the sampler: a window between two
        marks does not depend on the sampler keeping up (its broker and libvirt reads can take
        seconds on a saturated 2-pCPU host; CI saw a 14 s window with one sample)."""
        return time.monotonic(), vmkit.vcpu_stats(self.names)

    def since(self, mark):
        """(per-VM per-vCPU time/delay deltas, seconds) from `mark` to now."""
        t, stats = mark
        t_now, now = self.mark()
        return vmkit.vcpu_delta(stats, now), t_now - t

    def wait_registered(self, timeout=60):
        """Both VMs in the ledger with an acknowledged grant."""
        def ok():
            led = self.ledger()
            vms = led["vms"]
            return all(n in vms and vms[n]["granted"] and vms[n]["acked"] and vms[n]["acked"] == vms[n]["generation"]
                       for n in self.names) and led
        try:
            led = vmkit.wait_until(ok, timeout, "both agents to register and ack a grant", interval=0.5)
        except KitError as e:
            for n in self.names:
                log(f"{n} agent log tail:\n" + "\n".join(self.guests.agent_log(n).splitlines()[-15:]))
            log("broker log tail:\n" + self.broker.tail())
            raise e
        self.settle()
        return led

    def settle(self, timeout=30):
        """Waits for the guests' boot tail to end: right after boot a guest kernel still runs its
        own per-CPU work (memory onlining, deferred probes) on vCPUs the agent cannot empty of
        kernel threads. The overlap check starts once every vCPU on a pCPU its VM does not hold
        ran below the check's threshold for one sampling interval; the time it took is measured."""
        t0 = self.sampler.now()

        def quiet():
            snap = [s for s in self.sampler.snapshot() if s.get("ledger")]
            if len(snap) < 2 or snap[-1]["t"] <= t0:
                return False
            a, b = snap[-2], snap[-1]
            bad = timeline.check_no_overlap([a, b], self.sampler.pins)
            return not bad and b["t"]
        try:
            self.check_from = vmkit.wait_until(quiet, timeout, "the guests' boot tail to end", interval=0.5)
        except KitError as e:
            self.c.check(False, str(e))
            self.check_from = self.sampler.now()
        self.c.measure("boot_tail_s", round(self.check_from - t0, 1))

    def ledger(self):
        return timeline.summarize(self.broker.ctl("ledger"), self.broker.ctl("vms"))

    def overlaps(self, exempt=()):
        """(violations, samples checked) from the end of the boot tail (settle) on; before
        registration nothing is confined."""
        snap = [s for s in self.sampler.snapshot() if s["t"] >= self.check_from]
        bad = timeline.check_no_overlap(snap, self.sampler.pins, exempt_vms=exempt)
        return bad, len([s for s in snap if s.get("ledger")])

    def no_overlap(self, exempt=()):
        bad, n = self.overlaps(exempt)
        self.c.check(not bad, f"no overlap at any of {n} host-side samples" + ("" if not bad else ": " + "; ".join(bad[:5])))
        return bad

    def bg(self, name, cmd, tag):
        """Starts a load-tool command in the guest in the background; output in /tmp/<tag>.json."""
        self.guests.sh(name, f"vnuma-load {cmd} >/tmp/{tag}.json 2>&1 &")

    def result(self, name, tag, timeout=60):
        def got():
            rc, out = self.guests.ctl.run(name, f"cat /tmp/{tag}.json", check=False)
            out = out.strip()
            return json.loads(out) if rc == 0 and out.endswith("}") else None
        return vmkit.wait_until(got, timeout, f"{name}: result of {tag}", interval=1)

    def vcpus_of(self, vm, pcpus):
        return [v for v, p in self.sampler.pins[vm].items() if p in pcpus]

    def managed_pcpus(self):
        return set(int(p) for p in self.ledger()["pcpus"].keys())


def guest_allowed(env, name):
    """The CPU set a fresh process in the guest gets (what the agent's confinement allows)."""
    out = env.guests.sh(name, "grep Cpus_allowed_list /proc/self/status")
    return set(timeline.cpulist.parse(out.split(":", 1)[1]))


# ---- scenarios -------------------------------------------------------------------------------

def s_register(args, c):
    with Env(args, c) as env:
        led = env.ledger()
        managed = set(int(p) for p in led["pcpus"])
        online = timeline.cpulist.parse(open("/sys/devices/system/cpu/online").read())
        c.check(managed <= online and managed, f"managed pCPUs {sorted(managed)} are online host CPUs {sorted(online)}")
        ga, gb = set(led["vms"][A]["held"]), set(led["vms"][B]["held"])
        c.check(not (ga & gb), f"initial grants disjoint: A {sorted(ga)}, B {sorted(gb)}")
        c.check((ga | gb) <= managed, "grants cover only managed pCPUs")
        for n, g in ((A, ga), (B, gb)):
            c.check(len(g) >= (led["vms"][n]["floor"] or 1), f"{n} holds at least its floor ({led['vms'][n]['floor']})")
            allowed = guest_allowed(env, n)
            want = set(env.vcpus_of(n, g))
            c.check(allowed == want, f"{n}: guest tasks confined to vCPUs {sorted(want)} (pCPUs {sorted(g)}); got {sorted(allowed)}")
        time.sleep(6)
        env.no_overlap()


def s_alone(args, c):
    with Env(args, c) as env:
        env.bg(A, "cpu --threads 2 --seconds 25 --spread", "loadA")
        env.sampler.phase("A busy")
        t0 = env.sampler.now()
        floor_b = env.ledger()["vms"][B]["floor"] or 1
        managed = env.managed_pcpus()

        def a_has_rest():
            led = env.ledger()
            ha, hb = set(led["vms"][A]["granted"]), set(led["vms"][B]["held"])
            return len(hb) == floor_b and ha == managed - hb and (led, ha, hb)
        try:
            _, ha, hb = vmkit.wait_until(a_has_rest, 15, "A to hold every pCPU but B's floor", interval=0.5)
            c.check(True, f"A holds {sorted(ha)} = every managed pCPU but B's floor {sorted(hb)}")
        except KitError as e:
            c.check(False, str(e))
            hb = set(env.ledger()["vms"][B]["held"])
        t1 = env.sampler.now()
        m1 = env.mark()
        time.sleep(12)
        d, span = env.since(m1)
        revoked_b = env.vcpus_of(B, managed - hb)
        for v in revoked_b:
            ran = d[B][v]["time"] / 1e9
            c.check(ran < 0.05 * span + 0.05, f"B's revoked vCPU {v} barely ran while A was busy: {ran:.2f}s of {span:.1f}s")
        busy_a = sum(d[A][v]["time"] for v in env.vcpus_of(A, managed - hb)) / 1e9
        c.measure("alone.a_cpu_seconds", round(busy_a, 2))
        c.check(busy_a > 0.3 * span, f"A used its pCPUs: {busy_a:.1f} CPU-s over {span:.1f}s")
        c.measure("alone.seconds_to_converge", round(t1 - t0, 1))
        env.no_overlap()


def probe_run(env, c, label):
    """B busy on every vCPU it may use, A runs the 1 ms latency probe; returns the probe result
    and the per-vCPU wait over the probe window."""
    env.bg(B, "cpu --threads 2 --seconds 16 --spread", f"busyB-{label}")
    time.sleep(2)
    m0 = env.mark()
    res = json.loads(env.guests.sh(A, "vnuma-load probe --seconds 10 --period-us 1000", timeout=40).strip())
    d, _ = env.since(m0)
    c.measure(f"both.{label}.probe", {k: res[k] for k in ("samples", "missed", "p50_us", "p99_us", "max_us")})
    waits = {n: {v: round(d[n][v]["delay"] / 1e6) for v in d[n]} for n in (A, B)}
    c.measure(f"both.{label}.vcpu_wait_ms", waits)
    env.result(B, f"busyB-{label}", timeout=30)
    return res, d


def s_both(args, c):
    # Unmanaged first (no broker, agents not started), then managed on the same guests.
    with Env(args, c, weights=(200, 100), manual_agent=True, start_broker=False) as env:
        env.sampler.phase("unmanaged: B busy, probe in A")
        un, dun = probe_run(env, c, "unmanaged")
        env.broker.start()
        for n in (A, B):
            env.guests.start_agent(n)
        env.wait_registered()
        env.sampler.phase("managed: B busy, probe in A")
        led = env.ledger()
        ha, hb = set(led["vms"][A]["held"]), set(led["vms"][B]["held"])
        ma, dma = probe_run(env, c, "managed")
        # Measured and reported, bounded but not compared: on this 2-pCPU TCG host each VM's
        # single pCPU also carries its emulator thread, which is on the guest timer's path under
        # TCG (no housekeeping pCPU to put it on). Counted per tick (cyclictest's accounting), p99
        # was 2.3-5.4 ms unmanaged and 2.8-6.5 ms managed in repeated runs on the same guests;
        # see docs/operating.md ("Latency on a 2-pCPU test host"). The bound catches stalls:
        # unmanaged runs here have seen single wake-ups 0.1-1.2 s late.
        c.measure("both.probe_p99_ratio_managed_to_unmanaged", round(ma["p99_us"] / max(un["p99_us"], 1), 2))
        c.check(ma["p99_us"] < 10000 and ma["max_us"] < 100000,
                f"latency probe in A while B is busy: p99 managed {ma['p99_us']:.0f} us (unmanaged {un['p99_us']:.0f} us), "
                f"max {ma['max_us']:.0f} vs {un['max_us']:.0f} us, missed {ma['missed']} vs {un['missed']}")
        granted_wait = {n: sum(dma[n][v]["delay"] for v in env.vcpus_of(n, h)) / 1e6 for n, h in ((A, ha), (B, hb))}
        same_vcpus_unmanaged = {n: sum(dun[n][v]["delay"] for v in env.vcpus_of(n, h)) / 1e6 for n, h in ((A, ha), (B, hb))}
        c.measure("both.granted_vcpu_wait_ms", {"managed": granted_wait, "unmanaged": same_vcpus_unmanaged})
        c.check(granted_wait[B] < same_vcpus_unmanaged[B] or granted_wait[B] < 200,
                f"B's granted vCPUs waited {granted_wait[B]:.0f} ms managed vs {same_vcpus_unmanaged[B]:.0f} ms unmanaged")
        # Both busy: the split follows the weights (A 200, B 100) within floors/ceilings.
        env.sampler.phase("managed: both busy")
        env.bg(A, "cpu --threads 2 --seconds 15 --spread", "bothA")
        env.bg(B, "cpu --threads 2 --seconds 15 --spread", "bothB")
        time.sleep(10)
        led = env.ledger()
        ha, hb = set(led["vms"][A]["held"]), set(led["vms"][B]["held"])
        managed = set(int(p) for p in led["pcpus"])
        c.check(len(ha) >= len(hb), f"weights 200:100 -> A holds {len(ha)} pCPUs, B {len(hb)}")
        c.check(len(ha) >= (led["vms"][A]["floor"] or 1) and len(hb) >= (led["vms"][B]["floor"] or 1), "both keep their floors")
        c.check(ha | hb == managed, f"work-conserving: every managed pCPU is used ({sorted(ha)} + {sorted(hb)})")
        env.result(A, "bothA", 30)
        env.no_overlap()


def s_memory(args, c):
    with Env(args, c) as env:
        node = 1
        start = vmkit.virtio_mem(A)[node]
        env.sampler.phase("A allocates on guest node 1")
        env.bg(A, f"mem --node {node} --mib 200 --step-mib 8 --step-ms 100 --hold 25", "memA")
        try:
            grown = vmkit.wait_until(lambda: (lambda m: m["current"] and m["current"] > (start["current"] or 0) and m)(vmkit.virtio_mem(A)[node]),
                                     40, "A's virtio-mem on node 1 to grow (libvirt current)", interval=1)
            c.check(True, f"A's virtio-mem node {node} grew: current {start['current']} -> {grown['current']} KiB (requested {grown['requested']})")
        except KitError as e:
            c.check(False, str(e))
        peak = max((s.get("mem") or {}).get(A, {}).get(node, {}).get("current") or 0 for s in env.sampler.snapshot())
        c.measure("memory.peak_current_kib", peak)
        r = env.result(A, "memA", timeout=60)
        c.measure("memory.load", r)
        env.sampler.phase("A idle again")
        try:
            top = max(peak, vmkit.virtio_mem(A)[node]["current"] or 0)
            shrunk = vmkit.wait_until(lambda: (lambda m: (m["current"] or 0) < top and m)(vmkit.virtio_mem(A)[node]),
                                      90, "A's virtio-mem on node 1 to shrink again", interval=1)
            c.check(True, f"A's virtio-mem node {node} shrank: {top} -> {shrunk['current']} KiB")
        except KitError as e:
            c.check(False, str(e))
        # Never overcommitted: per host node, boot + max(requested, current) of every VM + reserve.
        cap = node_capacity_kib(0)
        worst = 0
        for s in env.sampler.snapshot():
            if not s.get("mem"):
                continue
            total = 1024 * 1024  # the broker's memory_reserve_mb = 1024
            for n in (A, B):
                total += boot_kib(n) + sum(max(m["requested"] or 0, m["current"] or 0) for m in s["mem"][n].values())
            worst = max(worst, total)
        c.check(worst <= cap, f"host node 0 never overcommitted: worst {worst // 1024} MiB of {cap // 1024} MiB")
        env.no_overlap()


_boot_cache = {}


def boot_kib(name):
    if name not in _boot_cache:
        dom = vmkit.domain_xml(name)
        _boot_cache[name] = sum(int(cell.get("memory")) for cell in dom.findall("./cpu/numa/cell"))
    return _boot_cache[name]


def node_capacity_kib(node):
    with open(f"/sys/devices/system/node/node{node}/meminfo") as f:
        return int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))


def s_restart(args, c):
    with Env(args, c) as env:
        env.bg(A, "cpu --threads 2 --seconds 40 --spread", "loadA")
        env.bg(B, "cpu --threads 1 --seconds 40", "loadB")
        time.sleep(6)
        before = env.ledger()
        env.sampler.phase("broker killed (-9)")
        env.broker.kill9()
        time.sleep(2.5)
        env.sampler.phase("broker restarted")
        t_restart = time.monotonic()
        env.broker.start()
        after = env.wait_registered(timeout=30)
        c.measure("restart.seconds_to_reregister", round(time.monotonic() - t_restart, 1))
        after = env.ledger()
        for n in (A, B):
            log(f"{n} held {before['vms'][n]['held']} before, {after['vms'][n]['held']} after the restart")
            c.check((after["vms"][n]["generation"] or 0) >= (before["vms"][n]["generation"] or 0),
                    f"{n} grant generation did not go back ({before['vms'][n]['generation']} -> {after['vms'][n]['generation']})")
        same = all(after["vms"][n]["held"] == before["vms"][n]["held"] for n in (A, B))
        c.check(same, "nothing lost: every VM holds what it held before the crash")
        time.sleep(5)
        env.no_overlap()


def s_agentkill(args, c):
    with Env(args, c) as env:
        env.bg(A, "cpu --threads 2 --seconds 40 --spread", "loadA")
        env.bg(B, "cpu --threads 2 --seconds 40 --spread", "loadB")
        time.sleep(5)
        before = env.ledger()
        ha = set(before["vms"][A]["held"])
        allowed_before = guest_allowed(env, A)
        env.sampler.phase("agent in A killed")
        env.guests.sh(A, "kill -9 $(pidof vnuma-agent)")
        t_kill = time.monotonic()
        # SIGKILL is asynchronous: the dying agent (nice 10, next to two busy threads) needs CPU
        # time to exit, so wait for it rather than look once.
        try:
            vmkit.wait_until(lambda: not env.guests.sh(A, "pidof vnuma-agent || true").strip(), 15,
                             "A's agent to exit after SIGKILL", interval=0.5)
            c.check(True, "A's agent is gone")
        except KitError as e:
            c.check(False, str(e))
        time.sleep(3)
        allowed = guest_allowed(env, A)
        c.check(allowed == allowed_before, f"A stays confined without its agent: {sorted(allowed)} (was {sorted(allowed_before)})")
        floor_a = before["vms"][A]["floor"] or 1
        managed = env.managed_pcpus()

        def shrunk():
            led = env.ledger()
            h = set(led["vms"][A]["held"])
            return len(h) <= floor_a and (h, set(led["vms"][B]["held"]))
        try:
            h, hb = vmkit.wait_until(shrunk, 20, "A to drop to its floor after the lease", interval=0.5)
            c.measure("agentkill.seconds_to_floor", round(time.monotonic() - t_kill, 1))
            c.check(hb == managed - h, f"after the lease A holds {sorted(h)} (floor {floor_a}), B holds {sorted(hb)}")
        except KitError as e:
            c.check(False, str(e))
        m1 = env.mark()
        time.sleep(8)
        d, span = env.since(m1)
        outside = env.vcpus_of(A, managed - set(env.ledger()["vms"][A]["held"]))
        ran = sum(d[A][v]["time"] for v in outside) / 1e9
        c.check(ran < 0.1 * span + 0.05, f"A's vCPUs outside its holding ran {ran:.2f}s of {span:.1f}s")
        env.no_overlap()


def s_rogue(args, c):
    with Env(args, c) as env:
        led = env.ledger()
        hb = set(led["vms"][B]["held"])
        env.bg(B, "cpu --threads 2 --seconds 30 --spread", "loadB")
        time.sleep(3)
        env.sampler.phase("rogue process in A")
        env.bg(A, "rogue --threads 2 --seconds 20", "rogueA")
        time.sleep(3)
        m0 = env.mark()
        time.sleep(14)
        d, span = env.since(m0)
        r = env.result(A, "rogueA", timeout=30)
        c.measure("rogue.tool", r)
        c.check(r.get("affinity_resets", 0) > 0, "the rogue really kept resetting its affinity")
        for p in sorted(hb):
            vb = env.vcpus_of(B, {p})
            va = env.vcpus_of(A, {p})
            b_run = sum(d[B][v]["time"] for v in vb) / 1e9
            b_wait = sum(d[B][v]["delay"] for v in vb) / 1e9
            a_run = sum(d[A][v]["time"] for v in va) / 1e9
            c.measure(f"rogue.pcpu{p}", {"B_run_s": round(b_run, 2), "B_wait_s": round(b_wait, 2), "A_rogue_run_s": round(a_run, 2), "span_s": round(span, 1)})
            c.check(a_run <= 0.1 * max(b_run, 0.1), f"pCPU {p} (B's): A's vCPU ran {a_run:.2f}s vs B's {b_run:.2f}s")
            c.check(b_wait <= 0.1 * span, f"pCPU {p} (B's): B's granted vCPU waited {b_wait:.2f}s of {span:.1f}s")
        env.no_overlap(exempt=())


def s_badpeer(args, c):
    with Env(args, c) as env:
        time.sleep(3)
        before = env.ledger()
        keys_a = os.path.join(env.guests.dir(A), "keys", "agent.key")
        server_pub = os.path.join(env.broker.work, "broker.pub")
        stranger = os.path.join(args.work, "stranger")
        os.makedirs(stranger, exist_ok=True)
        if not os.path.exists(os.path.join(stranger, "x.key")):
            vmkit.run([args.peer, "keygen", stranger, "x"])

        def send(kind, key, uuid, wait_ms=2500):
            out = vmkit.run([args.peer, "send", "--endpoint", env.broker.endpoint, "--server-pub", server_pub,
                             "--client-key", key, "--kind", kind, "--vm-uuid", uuid, "--wait-ms", str(wait_ms)], timeout=30)
            res = json.loads(out.strip().splitlines()[-1])
            log(f"peer {kind}: {res}")
            return res

        r = send("hello", os.path.join(stranger, "x.key"), vmkit.vm_uuid(A))
        c.check(not r["replies"], f"unknown CURVE key: no answer at all ({r['replies']})")
        r = send("garbage", keys_a, vmkit.vm_uuid(A))
        c.check(all(x.get("code") in (None, "MALFORMED", "NO_SESSION") and x.get("body") != "welcome" for x in r["replies"]),
                f"garbage refused ({r['replies']})")
        r = send("bad-version", keys_a, vmkit.vm_uuid(A))
        c.check(any(x.get("code") == "VERSION" for x in r["replies"]) or not r["replies"], f"protocol version 99 refused ({r['replies']})")
        r = send("wrong-vm", keys_a, vmkit.vm_uuid(B))
        c.check(all(x.get("body") != "welcome" for x in r["replies"]) and any(x.get("code") in ("UNAUTHORIZED", "UNKNOWN_VM") for x in r["replies"]),
                f"A's key claiming B's UUID refused ({r['replies']})")
        r = send("no-session", keys_a, vmkit.vm_uuid(A))
        c.check(all(x.get("body") != "welcome" for x in r["replies"]), f"report without a session refused ({r['replies']})")
        r = send("oversize", keys_a, vmkit.vm_uuid(A), wait_ms=1500)
        c.check(not r["replies"] or all(x.get("body") == "error" for x in r["replies"]), f"oversize frame dropped ({r['replies']})")
        time.sleep(3)
        c.check(env.broker.alive() and env.broker.ctl_rc("health")[0] == 0, "broker alive and healthy")
        after = env.ledger()
        for n in (A, B):
            c.check(after["vms"][n]["held"] == before["vms"][n]["held"],
                    f"{n} still holds {after['vms'][n]['held']} (before {before['vms'][n]['held']})")
            c.check(after["vms"][n]["acked"] == after["vms"][n]["generation"], f"{n}'s real agent still acks its grants")
        text = env.broker.log_text().lower()
        c.check(any(w in text for w in ("malformed", "refus", "reject", "unauthori", "version")),
                "the broker logged the refusals")
        env.no_overlap()


SCENARIOS = {"register": s_register, "alone": s_alone, "both": s_both, "memory": s_memory,
             "restart": s_restart, "agentkill": s_agentkill, "rogue": s_rogue, "badpeer": s_badpeer}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    for opt in ("work", "loadtool", "agent", "broker", "ctl", "peer"):
        ap.add_argument("--" + opt, required=True)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    args.work = os.path.abspath(args.work)
    for opt in ("loadtool", "agent", "broker", "ctl", "peer"):
        if not os.access(getattr(args, opt), os.X_OK):
            print(f"scenarios: --{opt} {getattr(args, opt)} is not an executable", file=sys.stderr)
            return 2
    c = Checks()
    t0 = time.monotonic()
    try:
        SCENARIOS[args.scenario](args, c)
    except KitError as e:
        c.check(False, f"error: {e}")
    log(f"scenario {args.scenario}: {len(c.failures)} failure(s) in {time.monotonic() - t0:.0f}s; measured {json.dumps(c.measured)}")
    for f in c.failures:
        log(f"  - {f}")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The vnuma demo (run through scripts/demo.sh): boots two Full vNUMA guests with the agent,
starts the broker, runs a scripted load (A busy, then B, then both, then idle, then a memory
burst in A), prints a live view of who owns which pCPU, and writes
<out>/timeline.json, <out>/timeline.png and <out>/summary.txt.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenarios  # noqa: E402
import timeline  # noqa: E402
import vmkit  # noqa: E402
from vmkit import KitError, log  # noqa: E402

A, B = "vnuma-demo-a", "vnuma-demo-b"
SHORT = {A: "A", B: "B"}


def wait_pct(a, b, name, pins, width):
    w = timeline.held_wait_fraction(a, b, name, pins)
    return "-".rjust(width) if w is None else f"{100 * w:{width}.0f}"


def live_view(sampler, s):
    """One line per sample: phase, pCPU owners, CPU use and wait per VM, virtio-mem."""
    samples = sampler.snapshot()
    phase = sampler.phases[-1]["label"] if sampler.phases else "boot"
    led = s.get("ledger")
    if led:
        own = "  ".join(f"pCPU{p}:{SHORT.get(v['vm'], '-') if v['vm'] else '-'}{'*' if v['state'] in ('granting', 'revoking') else ' '}"
                        for p, v in sorted(led["pcpus"].items(), key=lambda kv: int(kv[0])))
    else:
        own = "broker not answering"
    use = wait = ""
    if len(samples) >= 2:
        a, b = samples[-2], samples[-1]
        dt = (b["t"] - a["t"]) * 1e9
        if dt > 0:
            use = " ".join(f"{SHORT[n]} {sum(b['vcpu'][n][v]['time'] - a['vcpu'][n][v]['time'] for v in b['vcpu'][n]) / dt:3.1f}" for n in (A, B))
            wait = " ".join(f"{SHORT[n]} {wait_pct(a, b, n, sampler.pins, 3)}%" for n in (A, B))
    mem = ""
    last_mem = next((x["mem"] for x in reversed(samples) if x.get("mem")), None)
    if last_mem:
        mem = " ".join(f"{SHORT[n]}:" + ",".join(f"n{k}={(m['current'] or 0) // 1024}M" for k, m in sorted(last_mem[n].items())) for n in (A, B))
    print(f"{s['t']:6.1f}s [{phase:<22.22}] {own} | CPUs used {use} | held vCPUs wait {wait} | virtio-mem {mem}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    for opt in ("loadtool", "agent", "broker", "ctl", "peer", "work", "out"):
        ap.add_argument("--" + opt, required=True)
    ap.add_argument("--phase-seconds", type=int, default=25)
    args = ap.parse_args()
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    c = scenarios.Checks()
    ph = args.phase_seconds
    doc = None
    t_start = time.monotonic()
    try:
        with scenarios.Env(args, c, names=(A, B), on_sample=live_view) as env:
            log(f"guests booted in {env.guests.boot_seconds}; both agents registered")
            plan = [
                ("idle", None, None, 8),
                ("A busy", f"cpu --threads 2 --seconds {ph} --spread", None, ph),
                ("B busy", None, f"cpu --threads 2 --seconds {ph} --spread", ph),
                ("both busy", f"cpu --threads 2 --seconds {ph} --spread", f"cpu --threads 2 --seconds {ph} --spread", ph),
                ("idle", None, None, 12),
                ("memory burst in A (node 1)", "mem --node 1 --mib 200 --step-mib 8 --step-ms 100 --hold 15", None, 25),
                ("idle", None, None, 20),
            ]
            for i, (label, load_a, load_b, secs) in enumerate(plan):
                env.sampler.phase(label)
                if load_a:
                    env.bg(A, load_a, f"demo{i}a")
                if load_b:
                    env.bg(B, load_b, f"demo{i}b")
                time.sleep(secs + (2 if (load_a or load_b) else 0))
            env.sampler.stop()
            bad = env.no_overlap()  # from the end of the guests' boot tail on, like every scenario
            doc = env.sampler.to_json({"violations": bad, "boot_seconds": env.guests.boot_seconds,
                                       "checked_from_s": env.check_from})
            env.sampler = None  # already stopped and saved below
    except KitError as e:
        c.check(False, f"error: {e}")
    if doc is None:
        log("demo failed before a timeline could be written")
        return 1
    with open(os.path.join(args.out, "timeline.json"), "w") as f:
        json.dump(doc, f, indent=1)
    png = os.path.join(args.out, "timeline.png")
    try:
        timeline.render_png(doc, png)
    except ImportError as e:
        log(f"no image ({e}); install python3-matplotlib")
        png = None
    summary = summarize(doc)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(summary)
    print(summary)
    log(f"demo done in {time.monotonic() - t_start:.0f}s: {args.out}/timeline.json" + (f", {png}" if png else ""))
    return 1 if c.failures else 0


def summarize(doc):
    """Per phase: who held which pCPU most of the time, CPU use and wait per VM."""
    lines = ["phase                        owners (pCPU: VM)        CPUs used (A/B)   held vCPUs' wait % (A/B)"]
    samples = doc["samples"]
    pins = {n: {int(v): p for v, p in doc["pins"][n].items()} for n in doc["vms"]}
    for ph in doc["phases"]:
        inside = [s for s in samples if ph["t0"] <= s["t"] <= (ph["t1"] or 1e18)]
        if len(inside) < 2:
            continue
        owners = {}
        for s in inside:
            for p, v in ((s.get("ledger") or {}).get("pcpus") or {}).items():
                owners.setdefault(p, {}).setdefault(SHORT.get(v["vm"], "-"), 0)
                owners[p][SHORT.get(v["vm"], "-")] += 1
        own = " ".join(f"{p}:{max(o, key=o.get)}" for p, o in sorted(owners.items()))
        a, b = inside[0], inside[-1]
        dt = (b["t"] - a["t"]) * 1e9
        use = "/".join(f"{sum(b['vcpu'][n][v]['time'] - a['vcpu'][n][v]['time'] for v in b['vcpu'][n]) / dt:.2f}" for n in doc["vms"])
        wait = "/".join(wait_pct(a, b, n, pins, 0) for n in doc["vms"])
        lines.append(f"{ph['label']:<28.28} {own:<24} {use:<17} {wait}")
    v = doc.get("violations") or []
    lines.append(f"no-overlap check (host side, every sample after the boot tail): {'PASS' if not v else 'FAIL: ' + '; '.join(v[:3])}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

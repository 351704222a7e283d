"""Host-side sampling of who holds which pCPU and what the vCPUs actually did, the
"no overlap at any sample" analysis, and the timeline files (JSON + PNG).

A sample (every `period` seconds) holds the broker's ledger view (pCPU holders, enforced sets,
generations; None while the broker does not answer) and libvirt's per-vCPU time and delay for
every guest, the host weight of every vCPU read from its cgroup, plus virtio-mem sizes every few
samples. The overlap check does not take the broker's word for it: between two samples, a vCPU
whose pCPU its VM did not hold at either end must not have run (time delta below a threshold),
unless the host cgroup shows it at the lowest weight at both ends (an enforced revoke, invariant
4): then it may use idle cycles only, i.e. the owner's vCPU on that pCPU must not have waited.
"""
import json
import threading
import time

import cpulist
import vmkit
from vmkit import log

# A vCPU that does not hold its pCPU may still wake briefly (timer ticks, IPIs to the halted
# vCPU); anything above this share of the interval counts as running there.
RUN_THRESHOLD = 0.10
MIN_RUN_NS = 50_000_000
# A sample whose reads take longer than this is logged with the time of each part.
SLOW_SAMPLE_S = 1.5


class Sampler:
    def __init__(self, names, broker=None, period=1.0, mem_every=2, on_sample=None):
        self.names = list(names)
        self.broker = broker
        self.period = period
        self.mem_every = mem_every
        self.on_sample = on_sample
        self.samples = []
        self.phases = []
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.stop_evt = threading.Event()
        self.lock = threading.Lock()
        self.pins = {n: {v: int(p) for v, p in vmkit.pin_map(n).items()} for n in self.names}
        self.errors = []
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_evt.set()
        self.thread.join(30)

    def now(self):
        return time.monotonic() - self.t0

    def phase(self, label):
        """Starts a named phase (ends the previous one)."""
        with self.lock:
            t = self.now()
            if self.phases and self.phases[-1]["t1"] is None:
                self.phases[-1]["t1"] = t
            self.phases.append({"label": label, "t0": t, "t1": None})
        log(f"phase: {label}")

    def sample_now(self):
        s = {"t": round(self.now(), 3), "ledger": None}
        took = {}
        t_start = time.monotonic()
        if self.broker is not None and self.broker.alive():
            try:
                s["ledger"] = summarize(self.broker.ctl("ledger"), self.broker.ctl("vms"))
            except (vmkit.KitError, ValueError, KeyError, TypeError) as e:
                self._error(f"t={s['t']}: no ledger: {e}")
        took["ledger"] = time.monotonic() - t_start
        # The sample's time is that of the vCPU read: rates and the overlap check's threshold
        # divide vCPU time by it, and the broker's answer above can take seconds on a busy host.
        s["t"] = round(self.now(), 3)
        try:
            s["vcpu"] = vmkit.vcpu_stats(self.names)
        except vmkit.KitError as e:
            self._error(f"t={s['t']}: {e}")
            return None
        s["low"] = {n: sorted(v for v, low in vmkit.vcpu_weights(n).items() if low) for n in self.names}
        took["vcpu"] = time.monotonic() - t_start - took["ledger"]
        if len(self.samples) % self.mem_every == 0:
            t_mem = time.monotonic()
            try:
                s["mem"] = {n: vmkit.virtio_mem(n) for n in self.names}
            except vmkit.KitError:
                pass
            took["mem"] = time.monotonic() - t_mem
        if sum(took.values()) > SLOW_SAMPLE_S:
            log("slow sample at t=%.1f: %s" % (s["t"], ", ".join(f"{k} {v:.2f}s" for k, v in took.items())))
        with self.lock:
            self.samples.append(s)
        return s

    def _error(self, text):
        """Kept in the timeline file and logged at once: a failing scenario's log must say why
        its samples are missing."""
        self.errors.append(text)
        log(f"sampler: {text}")

    def _loop(self):
        next_t = time.monotonic()
        while not self.stop_evt.is_set():
            s = self.sample_now()
            if s is not None and self.on_sample:
                try:
                    self.on_sample(self, s)
                except Exception as e:  # the live view must never stop the sampling
                    self._error(f"live view: {e}")
            next_t += self.period
            self.stop_evt.wait(max(0.0, next_t - time.monotonic()))

    def snapshot(self):
        with self.lock:
            return list(self.samples)

    def to_json(self, extra=None):
        with self.lock:
            phases = [dict(p) for p in self.phases]
        if phases and phases[-1]["t1"] is None:
            phases[-1]["t1"] = self.now()
        doc = {"started": self.wall0, "period_s": self.period, "vms": self.names,
               "pins": {n: {str(v): p for v, p in pins.items()} for n, pins in self.pins.items()},
               "phases": phases, "samples": self.snapshot(), "errors": self.errors}
        doc.update(extra or {})
        return doc


def held_wait_fraction(a, b, vm, pins):
    """Wait (vcpu.N.delay rate, fraction of a CPU) between samples a and b of the VM's vCPUs on
    pCPUs it holds in b: the wait that matters. A revoked vCPU at the lowest host weight waits by
    design whenever its guest kernel wakes it. `pins` is {vm: {vcpu(int): pcpu}}; None when b has
    no ledger (broker not answering)."""
    vm_view = ((b.get("ledger") or {}).get("vms") or {}).get(vm)
    dt = (b["t"] - a["t"]) * 1e9
    if vm_view is None or dt <= 0:
        return None
    held = set(vm_view.get("held") or [])
    return sum(b["vcpu"][vm][v]["delay"] - a["vcpu"][vm][v]["delay"]
               for v in b["vcpu"][vm] if pins[vm].get(int(v)) in held) / dt


def summarize(ledger, vms):
    """What the checks and the timeline need from GET /v1/ledger and GET /v1/vms:
    {"pcpus": {"0": {"vm": name|None, "state": .., "enforced": bool}},
     "vms": {name: {"held": [..], "granted": [..], "enforced": [..], "floor", "weight",
                    "generation", "acked", "connected", "demand", "memory"}}, "version": N}"""
    pcpus = {}
    for p in ledger.get("pcpus", []):
        pcpus[str(p["id"])] = {"vm": p.get("owner_name") or None, "state": p.get("state"),
                               "enforced": bool(p.get("enforced"))}
    out = {}
    for vm in vms.get("vms", []):
        if not vm.get("managed"):
            continue
        sets = vm.get("pcpus") or {}
        held = set()
        for k in ("held", "granting", "revoking"):
            held |= cpulist.parse(sets.get(k, ""))
        out[vm["name"]] = {
            "held": sorted(held),
            "granted": sorted(cpulist.parse(sets.get("held", ""))),
            "enforced": sorted(cpulist.parse(sets.get("enforced", ""))),
            "floor": vm.get("floor"),
            "weight": vm.get("weight"),
            "generation": vm.get("generation"),
            "acked": vm.get("acked_generation"),
            "connected": (vm.get("agent") or {}).get("connected"),
            "demand": vm.get("demand"),
            "memory": vm.get("memory", []),
        }
    return {"pcpus": pcpus, "vms": out, "version": ledger.get("version"), "nodes": ledger.get("nodes", [])}


def holders(sample):
    """{pcpu: [vm names holding it]} from a sample's ledger summary."""
    res = {}
    for name, vm in (sample.get("ledger") or {}).get("vms", {}).items():
        for p in vm["held"]:
            res.setdefault(p, []).append(name)
    return res


def check_no_overlap(samples, pins, exempt_vms=()):
    """Violations of "each pCPU is used by at most one VM" over consecutive samples that both
    have a ledger (a broker outage is bridged: the interval spans it). Returns a list of texts."""
    bad = []
    with_ledger = [s for s in samples if s.get("ledger")]
    for s in with_ledger:
        for p, hs in holders(s).items():
            if len(hs) > 1:
                bad.append(f"t={s['t']}: ledger shows pCPU {p} held by {hs}")
    for a, b in zip(with_ledger, with_ledger[1:]):
        dt_ns = (b["t"] - a["t"]) * 1e9
        thr = max(MIN_RUN_NS, RUN_THRESHOLD * dt_ns)
        ha, hb = holders(a), holders(b)
        for vm, vpins in pins.items():
            if vm in exempt_vms:
                continue
            la, lb = a["ledger"]["vms"].get(vm), b["ledger"]["vms"].get(vm)
            if not la or not lb:
                continue
            for v, p in vpins.items():
                if p in la["held"] or p in lb["held"]:
                    continue
                ran = b["vcpu"][vm][v]["time"] - a["vcpu"][vm][v]["time"]
                if ran <= thr:
                    continue
                owners = sorted(set(ha.get(p, [])) | set(hb.get(p, [])))
                lowered = v in a.get("low", {}).get(vm, []) and v in b.get("low", {}).get(vm, [])
                if not lowered:
                    bad.append(f"t={a['t']}..{b['t']}: {vm} vCPU {v} ran {ran / 1e6:.0f} ms on pCPU {p}, "
                               f"which it did not hold (holders {owners or 'none'}), at full host weight")
                    continue
                # Lowered host-side: only idle cycles; the owner's vCPU must not have waited.
                waited = []
                for o in owners:
                    for ov, op in pins.get(o, {}).items():
                        if op == p:
                            d = b["vcpu"][o][ov]["delay"] - a["vcpu"][o][ov]["delay"]
                            if d > thr:
                                waited.append(f"{o} vCPU {ov} waited {d / 1e6:.0f} ms")
                if waited:
                    bad.append(f"t={a['t']}..{b['t']}: {vm} vCPU {v} (lowered) ran {ran / 1e6:.0f} ms on "
                               f"pCPU {p} while " + ", ".join(waited))
    return bad


# ---- the picture -----------------------------------------------------------------------------

def render_png(doc, path):
    """pCPU ownership (one lane per pCPU, colour = owner, hatched = revoking/granting), each VM's
    CPU use and demand, vCPU wait, and virtio-mem per VM over time. Needs python3-matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = doc["samples"]
    vms = doc["vms"]
    colors = {vm: c for vm, c in zip(vms, ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"])}
    pcpus = sorted({p for pins in doc["pins"].values() for p in pins.values()})
    fig, axes = plt.subplots(4, 1, figsize=(13, 10), sharex=True,
                             gridspec_kw={"height_ratios": [1.2, 1.4, 1.0, 1.0]})
    ax_own, ax_use, ax_wait, ax_mem = axes
    ts = [s["t"] for s in samples]
    end = ts[-1] if ts else 1

    for ax in axes:
        for i, ph in enumerate(doc.get("phases", [])):
            t1 = ph["t1"] if ph["t1"] is not None else end
            ax.axvspan(ph["t0"], t1, color="#000000", alpha=0.04 if i % 2 else 0.0)
    for ph in doc.get("phases", []):
        t1 = ph["t1"] if ph["t1"] is not None else end
        ax_own.text((ph["t0"] + t1) / 2, len(pcpus) - 0.35, ph["label"], ha="center", va="bottom", fontsize=8)

    # Ownership lanes.
    for lane, p in enumerate(pcpus):
        for a, b in zip(samples, samples[1:]):
            led = a.get("ledger")
            if not led:
                ax_own.broken_barh([(a["t"], b["t"] - a["t"])], (lane - 0.4, 0.8), facecolors="#dddddd")
                continue
            info = led["pcpus"].get(str(p), {})
            owner = info.get("vm")
            state = info.get("state") or ""
            if owner:
                ax_own.broken_barh([(a["t"], b["t"] - a["t"])], (lane - 0.4, 0.8), facecolors=colors.get(owner, "grey"),
                                   hatch="//" if state in ("granting", "revoking") else None, edgecolor="white")
    ax_own.set_yticks(range(len(pcpus)))
    ax_own.set_yticklabels([f"pCPU {p}" for p in pcpus])
    ax_own.set_ylim(-0.6, len(pcpus) - 0.1 + 0.5)
    ax_own.set_title("pCPU ownership (broker ledger; grey = broker not answering, hatched = in handoff)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[v]) for v in vms]
    ax_own.legend(handles, vms, loc="upper right", fontsize=8, ncol=len(vms))

    # CPU use (host-side, from vcpu.N.time) and broker demand.
    for vm in vms:
        tt, use, dem_t, dem = [], [], [], []
        for a, b in zip(samples, samples[1:]):
            dt = (b["t"] - a["t"]) * 1e9
            if dt <= 0:
                continue
            u = sum(b["vcpu"][vm][v]["time"] - a["vcpu"][vm][v]["time"] for v in b["vcpu"][vm]) / dt
            tt.append(b["t"])
            use.append(u)
            d = ((b.get("ledger") or {}).get("vms") or {}).get(vm, {}).get("demand")
            if d is not None:
                dem_t.append(b["t"])
                dem.append(d)
        ax_use.plot(tt, use, color=colors[vm], label=f"{vm} CPU use (host)")
        if dem:
            ax_use.plot(dem_t, dem, color=colors[vm], linestyle="--", label=f"{vm} demand (broker)")
    ax_use.set_ylabel("CPUs")
    ax_use.set_ylim(bottom=0)
    ax_use.legend(loc="upper right", fontsize=8)
    ax_use.set_title("CPU use per VM (sum of vcpu.N.time rates) and the broker's smoothed demand")

    # Wait (vcpu.N.delay rate) of the vCPUs on pCPUs each VM holds.
    pins = {vm: {int(v): p for v, p in doc["pins"][vm].items()} for vm in vms}
    for vm in vms:
        tt, wait = [], []
        for a, b in zip(samples, samples[1:]):
            w = held_wait_fraction(a, b, vm, pins)
            if w is None:
                continue
            wait.append(100 * w)
            tt.append(b["t"])
        ax_wait.plot(tt, wait, color=colors[vm], label=vm)
    ax_wait.set_ylabel("% of a CPU")
    ax_wait.set_ylim(bottom=0)
    ax_wait.legend(loc="upper right", fontsize=8)
    ax_wait.set_title("wait of the vCPUs on held pCPUs (vcpu.N.delay: runnable, not running)")

    # Memory.
    for vm in vms:
        nodes = sorted({n for s in samples for n in (s.get("mem") or {}).get(vm, {})})
        for n, style in zip(nodes, ["-", ":", "-.", "--"]):
            tt = [s["t"] for s in samples if (s.get("mem") or {}).get(vm, {}).get(n)]
            cur = [((s["mem"][vm][n].get("current") or 0) / 1024) for s in samples if (s.get("mem") or {}).get(vm, {}).get(n)]
            ax_mem.plot(tt, cur, color=colors[vm], linestyle=style, label=f"{vm} node {n}")
    ax_mem.set_ylabel("MiB")
    ax_mem.set_xlabel("seconds")
    ax_mem.legend(loc="upper right", fontsize=8, ncol=2)
    ax_mem.set_title("virtio-mem plugged per guest node (libvirt <current>)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

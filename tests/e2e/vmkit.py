"""Host-side kit for the vnuma e2e tests and the demo: boots/tears down test guests through
scripts/vm/, talks to them over the control channel (tests/e2e/loadtool/Control.hpp), reads
libvirt facts (per-vCPU stats, virtio-mem sizes) with virsh. Standard library only.

Every wait is bounded; every failure raises KitError with a message saying what was expected.
"""
import os
import re
import socket
import subprocess
import threading
import time
import uuid
import xml.etree.ElementTree as ET

VIRSH = ["virsh", "-c", "qemu:///system"]
SRC = os.environ.get("VNUMA_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


# Same namespace as scripts/vm/make-domain.py: a guest's UUID (= its SMBIOS system UUID, the
# agent's identity and the name of its key file at the broker) is a function of its name.
UUID_NS = uuid.UUID("6f0e4c52-3f7b-4d1e-9a57-0b7e2a1c9d10")


def vm_uuid(name):
    return str(uuid.uuid5(UUID_NS, name))


class KitError(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, timeout=60, check=True, env=None):
    """Runs a command; returns stdout. Raises KitError with stderr on failure or timeout."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise KitError(f"timed out after {timeout}s: {' '.join(cmd)}")
    if check and p.returncode != 0:
        raise KitError(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- libvirt -------------------------------------------------------------------------------

def host_setup():
    """libvirtd + virtlogd on qemu:///system (scripts/vm/host-setup.sh, idempotent)."""
    run([os.path.join(SRC, "scripts/vm/host-setup.sh")], timeout=120)


def virsh(*args, timeout=60, check=True):
    return run(VIRSH + list(args), timeout=timeout, check=check)


def vcpu_stats(names):
    """{name: {vcpu: {"time": ns, "delay": ns}}}: what libvirt reports as vcpu.N.time and
    vcpu.N.delay, read from each vCPU thread's /proc/<tid>/schedstat (run and wait time) via the
    per-vCPU host cgroups. Not through `virsh domstats`: that also queries QEMU's monitor, which
    under TCG needs QEMU's big lock, and a vCPU thread at the lowest weight can hold that lock
    for seconds (it stalled the sampler 13 s in a rogue run). Falls back to domstats for a guest
    whose cgroups are not found."""
    stats, rest = {}, []
    for n in names:
        got = _schedstats(n)
        if got:
            stats[n] = got
        else:
            rest.append(n)
    if rest:
        stats.update(_domstats(rest))
    return stats


def _schedstats(name):
    out = {}
    for v, d in _vcpu_cgroups(name).items():
        for tasks in ("cgroup.threads", "tasks"):
            try:
                with open(os.path.join(d, tasks)) as f:
                    tids = f.read().split()
                break
            except OSError:
                tids = None
        if not tids:
            return {}
        run = wait = 0
        for tid in tids:  # one vCPU thread per vcpuN cgroup; sum in case of more
            try:
                with open(f"/proc/{tid}/schedstat") as f:
                    r, w, _ = f.read().split()
            except (OSError, ValueError):
                return {}
            run, wait = run + int(r), wait + int(w)
        out[v] = {"time": run, "delay": wait}
    return out


def _domstats(names):
    out = virsh("domstats", "--vcpu", *names)
    stats, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"Domain: '(.+)'", line)
        if m:
            cur = stats.setdefault(m.group(1), {})
            continue
        m = re.match(r"\s*vcpu\.(\d+)\.(time|delay)=(\d+)", line)
        if m and cur is not None:
            cur.setdefault(int(m.group(1)), {})[m.group(2)] = int(m.group(3))
    missing = [n for n in names if n not in stats]
    if missing:
        raise KitError(f"domstats has no vCPU stats for {missing}")
    return stats


# The per-vCPU host cgroups libvirt creates (BRIEF section 5): cgroup v1 cpu.shares (lowest 2)
# or v2 cpu.weight (lowest 1). Read straight from the kernel, not from the broker.
_WEIGHT_GLOBS = ("/sys/fs/cgroup/cpu/machine/qemu-*-{n}.libvirt-qemu/vcpu*/cpu.shares",
                 "/sys/fs/cgroup/cpu,cpuacct/machine/qemu-*-{n}.libvirt-qemu/vcpu*/cpu.shares",
                 "/sys/fs/cgroup/machine.slice/machine-qemu*{n}.scope/libvirt/vcpu*/cpu.weight",
                 "/sys/fs/cgroup/machine/qemu-*-{n}.libvirt-qemu/vcpu*/cpu.weight")
LOWEST_WEIGHT = {"cpu.shares": 2, "cpu.weight": 1}


def _vcpu_cgroups(name):
    """{vcpu: directory} of a running guest's per-vCPU host cgroups; {} if not found."""
    import glob
    for pattern in _WEIGHT_GLOBS:
        files = glob.glob(pattern.format(n=glob.escape(name)))
        if files:
            return {int(re.search(r"/vcpu(\d+)/[^/]+$", f).group(1)): os.path.dirname(f) for f in files}
    return {}


def vcpu_weights(name):
    """{vcpu: True when its host weight is the lowest} for a running guest; {} if not found."""
    out = {}
    for v, d in _vcpu_cgroups(name).items():
        for weight, lowest in LOWEST_WEIGHT.items():
            try:
                with open(os.path.join(d, weight)) as fh:
                    out[v] = int(fh.read().strip()) <= lowest
                break
            except (OSError, ValueError):
                continue
    return out


def vcpu_delta(before, after):
    """Per-VM, per-vCPU {"time": ns, "delay": ns} differences between two vcpu_stats()."""
    d = {}
    for name, vcpus in after.items():
        d[name] = {}
        for v, s in vcpus.items():
            b = before.get(name, {}).get(v, {})
            d[name][v] = {k: s.get(k, 0) - b.get(k, 0) for k in ("time", "delay")}
    return d


def domain_xml(name, inactive=False):
    args = ["dumpxml", name] + (["--inactive"] if inactive else [])
    return ET.fromstring(virsh(*args))


def domain_uuid(name):
    return virsh("domuuid", name).strip()


def _kib(el):
    if el is None:
        return None
    unit = el.get("unit", "KiB")
    mult = {"KiB": 1, "k": 1, "KB": 1, "MiB": 1024, "M": 1024, "GiB": 1024 * 1024, "G": 1024 * 1024, "b": 1 / 1024, "bytes": 1 / 1024}
    return int(float(el.text) * mult.get(unit, 1))


def virtio_mem(name):
    """{guest node: {"size": KiB, "requested": KiB, "current": KiB|None}} from the live XML."""
    res = {}
    for mem in domain_xml(name).findall("./devices/memory[@model='virtio-mem']"):
        t = mem.find("target")
        node = int(t.find("node").text)
        res[node] = {k: _kib(t.find(k)) for k in ("size", "requested", "current", "block")}
    return res


def pin_map(name):
    """{vcpu: pcpu-list-string} from the live XML's <cputune>."""
    return {int(p.get("vcpu")): p.get("cpuset") for p in domain_xml(name).findall("./cputune/vcpupin")}


def set_virtio_mem(name, node, mib):
    virsh("update-memory-device", name, "--node", str(node), "--requested-size", f"{mib}MiB", "--live")


def wait_until(pred, timeout, what, interval=0.25):
    """Polls pred() until it returns a truthy value (returned) or raises KitError after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = pred()
        except KitError as e:
            last = None
            err = e
        else:
            err = None
        if last:
            return last
        if time.monotonic() >= deadline:
            raise KitError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {err})" if err else ""))
        time.sleep(interval)


# ---- control channel -----------------------------------------------------------------------

class ControlServer:
    """Accepts the guests' control connections on 127.0.0.1:port (guests dial 10.0.2.2:port).

    A guest identifies itself with HELLO <name>; a newer connection of the same guest replaces
    the older one. run() sends one request at a time per guest (a lock per guest)."""

    def __init__(self, port=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = {}
        self.locks = {}
        self.cv = threading.Condition()
        self.next_id = 1
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(10)
            try:
                f = conn.makefile("rb")
                line = f.readline(256).decode(errors="replace").strip()
            except OSError:
                conn.close()
                continue
            m = re.fullmatch(r"HELLO ([A-Za-z0-9_.-]+)", line)
            if not m:
                conn.close()
                continue
            with self.cv:
                old = self.conns.get(m.group(1))
                if old:
                    old[0].close()
                self.conns[m.group(1)] = (conn, f)
                self.locks.setdefault(m.group(1), threading.Lock())
                self.cv.notify_all()

    def wait_for(self, names, timeout=60):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not all(n in self.conns for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [n for n in names if n not in self.conns]
                    raise KitError(f"guests {missing} did not connect to the control port {self.port} within {timeout}s")
                self.cv.wait(left)

    def connected(self, name):
        with self.cv:
            return name in self.conns

    def run(self, name, command, timeout=30, check=True):
        """Runs a shell command in guest `name`; returns (exit code, output)."""
        with self.cv:
            if name not in self.conns:
                raise KitError(f"guest {name} has no control connection")
            lock = self.locks[name]
        with lock:
            with self.cv:
                conn, f = self.conns[name]
                rid = self.next_id
                self.next_id += 1
            try:
                conn.settimeout(timeout + 15)
                conn.sendall(f"RUN {rid} {int(max(1, timeout))} {command}\n".encode())
                header = f.readline(256).decode(errors="replace").strip()
                m = re.fullmatch(r"DONE (\d+) (-?\d+) (\d+)", header)
                if not m or int(m.group(1)) != rid:
                    raise KitError(f"guest {name}: bad reply {header!r} to request {rid}")
                out = f.read(int(m.group(3))).decode(errors="replace")
            except (OSError, socket.timeout) as e:
                with self.cv:
                    if self.conns.get(name, (None,))[0] is conn:
                        del self.conns[name]
                raise KitError(f"guest {name}: control connection failed during {command!r}: {e}")
        rc = int(m.group(2))
        if check and rc != 0:
            raise KitError(f"guest {name}: `{command}` exited {rc}: {out.strip()[-2000:]}")
        return rc, out

    def sh(self, name, command, timeout=30):
        """run() that must succeed; returns the output only."""
        return self.run(name, command, timeout=timeout)[1]

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.cv:
            for conn, _ in self.conns.values():
                conn.close()
            self.conns.clear()


# ---- guests --------------------------------------------------------------------------------

class Guests:
    """A set of test guests brought up with scripts/vm/up.sh and always removed by down()."""

    def __init__(self, names, work, loadtool, agent=None, domain_args="--guest-nodes 2", extra=None,
                 boot_timeout=150, agent_manual=False):
        self.names = list(names)
        self.work = work
        self.loadtool = loadtool
        self.agent = agent
        self.domain_args = domain_args
        self.extra = extra or {}
        self.boot_timeout = boot_timeout
        self.agent_manual = agent_manual
        self.ctl = ControlServer()
        self.boot_seconds = {}

    def up(self):
        specs = [f"{n}:--uuid {vm_uuid(n)} {self.extra.get(n, '')}" for n in self.names]
        cmd = [os.path.join(SRC, "scripts/vm/up.sh"), "--work", self.work, "--loadtool", self.loadtool,
               "--control", f"10.0.2.2:{self.ctl.port}", "--boot-timeout", str(self.boot_timeout),
               "--domain-args", self.domain_args]
        if self.agent:
            cmd += ["--agent", self.agent] + (["--agent-manual"] if self.agent_manual else [])
        out = run(cmd + specs, timeout=self.boot_timeout + 120)
        for m in re.finditer(r"up: (\S+) ready in ([\d.]+)s", out):
            self.boot_seconds[m.group(1)] = float(m.group(2))
        log(f"guests up: {self.boot_seconds}")
        self.ctl.wait_for(self.names, timeout=60)

    def down(self):
        self.ctl.close()
        run([os.path.join(SRC, "scripts/vm/down.sh")] + self.names, timeout=120, check=False)

    def dir(self, name):
        return os.path.join(self.work, name)

    def start_agent(self, name):
        self.sh(name, "/etc/vnuma-e2e/agent.sh </dev/null >/dev/null 2>&1 &")

    def agent_log(self, name):
        return self.ctl.run(name, "cat /var/log/vnuma-agent.log", check=False)[1]

    def console(self, name):
        try:
            with open(os.path.join(self.work, name, "console.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def sh(self, name, command, timeout=30):
        return self.ctl.sh(name, command, timeout=timeout)

    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()
        return False

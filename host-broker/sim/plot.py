"""vnuma-sim plot: reads the JSON vnuma-sim writes (with series) and draws, per policy, demand
vs. CPUs used for each VM over time, plus a bar chart of per-VM satisfaction.
Usage: plot.py RESULTS.json OUT.png   (vnuma-sim --plot OUT.png calls it)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        data = json.load(f)
    results = data["results"]
    vms = [v["name"] for v in data["scenario"]["vms"]]
    shown = vms[:6]
    fig, axes = plt.subplots(len(results) + 1, 1, figsize=(11, 3 * (len(results) + 1)), squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        s = r.get("series")
        if not s:
            continue
        t = s["t"]
        for i, name in enumerate(shown):
            line, = ax.plot(t, [p[i] for p in s["demand"]], linestyle="--", linewidth=1, label=f"{name} demand")
            ax.plot(t, [p[i] for p in s["used"]], color=line.get_color(), linewidth=1.5, label=f"{name} used")
        ax.set_title(f'{r["policy"]}: unmet {r["unmet_cpu_s"]:.0f} CPU-s, overlaps {r["overlap_violations"]}, '
                     f'handoffs {r["handoffs"]}, Jain {r["jain"]:.3f}')
        ax.set_ylabel("CPUs")
        ax.legend(fontsize=7, ncol=4, loc="upper right")
    ax = axes[-1, 0]
    width = 0.8 / max(1, len(results))
    for k, r in enumerate(results):
        sats = [v["satisfaction"] for v in r["vms"]]
        ax.bar([i + k * width for i in range(len(sats))], sats, width=width, label=r["policy"])
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(vms))])
    ax.set_xticklabels(vms, rotation=90 if len(vms) > 12 else 0, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("satisfaction")
    ax.legend(fontsize=8)
    ax.set_title(f'{data["scenario"]["name"]}: {data["scenario"]["host_summary"]}')
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())

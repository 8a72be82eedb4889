#!/usr/bin/env python3
"""Draws a lockstep divergence report (parity/train/lockstep.h, parity-diff --json) as a PNG:
the two sides' losses per step, how far each layer's output and each weight part
per step (free pass), and each layer's and gradient's distance relative to its
float32 rounding bound with both sides given the same state (resynced pass).

    plot_divergence.py report.json report.png
"""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def ratio(v):
    return math.inf if v == "inf" else float(v)


def main(src, dst):
    r = json.load(open(src))
    free, resynced = r.get("free", []), r.get("resynced", [])
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    steps = [s["step"] for s in free]
    ax = axes[0]
    if free:
        ax.plot(steps, [s["loss_a"] for s in free], "o-", label="A: " + r["a"])
        ax.plot(steps, [s["loss_b"] for s in free], "s--", label="B: " + r["b"])
    ax.set_xlabel("step")
    ax.set_ylabel("loss (batch)")
    ax.set_title("losses, each side on its own")
    ax.legend(fontsize=8)

    ax = axes[1]
    if free:
        names = [c["name"] for c in free[0]["outputs"]]
        for n in names:
            ys = [max(next(c["relative"] for c in s["outputs"] if c["name"] == n), 1e-12) for s in free]
            ax.semilogy(steps, ys, "o-", label="layer " + n)
        ax.semilogy(steps, [max(s["param_distance"] / max(s["update_scale"], 1e-30), 1e-12) for s in free],
                    "k^--", label="weights (of an update)")
    ax.set_xlabel("step")
    ax.set_ylabel("max |A - B| / max |A|")
    ax.set_title("how far they part (free pass)")
    ax.legend(fontsize=7)

    ax = axes[2]
    if resynced:
        rows, labels = [], []
        for kind in ("outputs", "grads"):
            for c in resynced[0][kind]:
                if "ratio" not in c:
                    continue
                labels.append(("out " if kind == "outputs" else "grad ") + c["name"])
                row = []
                for s in resynced:
                    m = next((x for x in s[kind] if x["name"] == c["name"]), None)
                    v = ratio(m["ratio"]) if m and "ratio" in m else float("nan")
                    row.append(math.log10(max(min(v, 1e6), 1e-6)) if v == v else float("nan"))
                rows.append(row)
        if rows:
            im = ax.imshow(rows, aspect="auto", cmap="RdBu_r", vmin=-6, vmax=6,
                           extent=(0.5, len(resynced) + 0.5, len(rows) - 0.5, -0.5))
            ax.set_yticks(range(len(labels)))
            ax.set_yticklabels(labels, fontsize=7)
            fig.colorbar(im, ax=ax, label="log10(|A - B| / rounding bound); > 0 is not rounding")
    first = r.get("first_divergence")
    ax.set_title("same state each step: vs float32 rounding\n" +
                 ("first past its bound: step %d, %s %s" % (first["step"], first["phase"], first["tensor"])
                  if first else "nothing past its bound"), fontsize=9)
    ax.set_xlabel("step")
    fig.suptitle("lockstep: A = %s, B = %s" % (r["a"], r["b"]), fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

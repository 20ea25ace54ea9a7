"""bench/run.py --plot: the stage split of each end-to-end case and throughput against tile
size, as PNG figures named by the machine kind (docs/figures/bench_*_KIND.png)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common import machine_kind


def plot_figures(folder: Path, m: dict, stage_rows, tile_curves: dict, threads: int) -> list[Path]:
    """The stage split of each end-to-end case as stacked bars, and throughput against tile
    size; PNG files named by the machine kind (bench_stages_KIND.png, bench_tiles_KIND.png)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    kind = machine_kind(m)
    title = f"{m['cpu']} ({m['isa'] or 'no AVX2'}), {threads} threads, load {m['load'][0]:.1f} at start"
    out = []
    if stage_rows:
        parts = ["decode", "colour", "bicubic", "cnn", "encode"]
        colours = ["#8c8c8c", "#e6a532", "#5aa05a", "#3c6eb4", "#b45a5a"]
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(stage_rows) + 1.6))
        names = [f"{n} ~{mp:g} MP" for n, mp, _ in stage_rows]
        left = np.zeros(len(stage_rows))
        for part, c in zip(parts, colours):
            v = np.array([r[part] for _, _, r in stage_rows])
            ax.barh(names, v, left=left, color=c, label="CNN" if part == "cnn" else part)
            left += v
        for k, total in enumerate(left):
            ax.text(total, k, f" {total:.2f} s", va="center", fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("seconds, PNG file to PNG file (x3)")
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=8, ncol=5, loc="lower right")
        ax.set_xlim(0, left.max() * 1.15)
        fig.tight_layout()
        p = folder / f"bench_stages_{kind}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        out.append(p)
    if tile_curves:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for name, curve in tile_curves.items():
            ts = sorted(curve)
            ax.plot(ts, [curve[t] for t in ts], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({t for c in tile_curves.values() for t in c}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("tile side (output pixels)")
        ax.set_ylabel("output MP/s (upscale only)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(title, fontsize=7)
        fig.tight_layout()
        p = folder / f"bench_tiles_{kind}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        out.append(p)
    return out

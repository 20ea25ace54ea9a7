#!/usr/bin/env python3
"""The self-ensemble's cost and gain: PSNR and time of 1, 2, 4 and 8 passes per model (issue 16).

    python bench/ensemble.py                         # every shipped model, Set5 and Set14
    python bench/ensemble.py --sets Set5 --json docs/ensemble.json

PSNR: the paper's protocol (``srcnn-cli eval --ensemble --passes N``, srcnn.evaluate). Time:
``srcnn.upscale`` of a 256x256 RGB picture at the model's factor on the default fast path, best
of 3, after a warm-up. For 2 and 4 passes it also scores the other natural choice of
symmetries (2: identity + transpose instead of identity + rotation by 180 degrees; 4: the four
flips instead of the four rotations), which is how ``srcnn.ensemble.SETS`` was chosen.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

import srcnn.ensemble as ens
from srcnn.evaluate import evaluate
from srcnn.pipeline import upscale
from srcnn.runtime import available_models, load_model

ALTERNATIVES = {
    2: ((False, False, False), (True, False, False)),                                     # id, transpose
    4: ((False, False, False), (False, True, False), (False, False, True), (False, True, True)),  # flips
}


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_passes(info, n: int, threads) -> float:
    side = -(-256 // info.scale)
    img = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    upscale(img, info.scale, model=str(info.manifest_path), ensemble=n, threads=threads)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        upscale(img, info.scale, model=str(info.manifest_path), ensemble=n, threads=threads)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="Set5,Set14")
    ap.add_argument("--only", default=None, help="comma-separated weight names (default: all shipped)")
    ap.add_argument("--no-alternatives", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    root = Path(os.environ.get("SRCNN_DATASETS", Path(__file__).resolve().parents[1].parent / "shared" / "datasets"))
    models = [m for m in available_models() if not a.only or m.name in a.only.split(",")]
    load = os.getloadavg()[0]
    rows = []
    t_start = time.time()
    for info in models:
        net = load_model(info)
        row = {"model": info.name, "variant": info.variant, "scale": info.scale, "psnr": {}, "seconds": {}}
        variants = [(n, str(n)) for n in (1, 2, 4, 8)]
        if not a.no_alternatives:
            variants += [(n, f"{n}alt") for n in ALTERNATIVES]
        for n, label in variants:
            saved = ens.SETS[n]
            if label.endswith("alt"):
                ens.SETS[n] = ALTERNATIVES[n]
            try:
                for ds in a.sets.split(","):
                    res = evaluate(root / ds, info.scale, net, with_ssim=False, ensemble=n)
                    row["psnr"].setdefault(ds, {})[label] = res["mean"]["srcnn"]["psnr"]
                    print(f"{info.name} {ds} passes {label}: {res['mean']['srcnn']['psnr']:.3f}", file=sys.stderr, flush=True)
                if not label.endswith("alt"):
                    row["seconds"][label] = time_passes(info, n, a.threads)
            finally:
                ens.SETS[n] = saved
        rows.append(row)
    res = {"cpu": cpu_name(), "load_at_start": load, "load_at_end": os.getloadavg()[0],
           "seconds": round(time.time() - t_start), "default_passes": ens.DEFAULT_PASSES, "rows": rows}
    sets = a.sets.split(",")
    print(f"CPU {res['cpu']}, load {load:.1f} -> {res['load_at_end']:.1f}, {res['seconds']} s; "
          f"time: 256x256 output, fast path; PSNR: paper protocol\n")
    cols = ["1", "2", "4", "8"]
    head = "| model | " + " | ".join(f"{ds} {c} pass{'es' if c != '1' else ''}" for ds in sets for c in cols) \
        + " | " + " | ".join(f"time {c}" for c in cols) + " |"
    print(head)
    print("|" + "---|" * (1 + len(sets) * len(cols) + len(cols)))
    for r in rows:
        cells = [f"{r['variant']} x{r['scale']}"]
        for ds in sets:
            base = r["psnr"][ds]["1"]
            cells += [f"{base:.3f}"] + [f"{r['psnr'][ds][c]:.3f} ({r['psnr'][ds][c] - base:+.3f})" for c in cols[1:]]
        t1 = r["seconds"]["1"]
        cells += [f"{r['seconds'][c] * 1000:.0f} ms" + ("" if c == "1" else f" ({r['seconds'][c] / t1:.1f}x)") for c in cols]
        print("| " + " | ".join(cells) + " |")
    if not a.no_alternatives:
        print("\nOther choices of symmetries (gain over 1 pass):\n")
        for r in rows:
            for ds in sets:
                p = r["psnr"][ds]
                print(f"- {r['variant']} x{r['scale']} {ds}: 2 passes id+transpose {p['2'] - p['1']:+.3f}, "
                      f"id+rot180 {p['2alt'] - p['1']:+.3f}; 4 passes rotations {p['4'] - p['1']:+.3f}, "
                      f"flips {p['4alt'] - p['1']:+.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

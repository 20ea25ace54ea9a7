#!/usr/bin/env python3
"""Every factor a user asks for: PSNR of the ways the trained models can reach it (issue 17).

The user protocol: each HR image mod-cropped so that the low-resolution size is whole (to a
multiple of p for s = p/q), shrunk by 1/s with the MATLAB-compatible bicubic and rounded to 8
bits (what a user's small picture is), then ``srcnn.upscale(lr, s, plan=...)`` as the CLI and
GIMP run it; PSNR on Y (MATLAB rgb2ycbcr of the uint8 RGB output), ceil(s) px shaved.

    python bench/factors.py                       # the grid, Set5 and Set14; prints markdown
    python bench/factors.py --scales 1.5,5 --sets Set5 --json docs/factors.json

Candidates per factor: bicubic; "nearest" (before plans: the nearest trained model on the
bicubic x s image); the two smallest trained factors k >= s followed by the bicubic resample
by s/k (above every trained factor: the largest, then bicubic up); for s > 3 each chain of two
trained factors with a product in [s, 2s] followed by the resample. The default plan
(``srcnn.factors.plan_for``) is marked; the JSON keeps every number.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from srcnn.colour import rgb2y
from srcnn.factors import Plan, plan_for
from srcnn.metrics import psnr
from srcnn.pipeline import _direct, upscale
from srcnn.protocol import list_images, load_uint8
from srcnn.resize import imresize
from srcnn.runtime import models_by_scale, resolve_model

GRID = (1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8)


def user_pair(img: np.ndarray, s: float):
    """(HR uint8 cropped, LR uint8) for factor s, the LR size whole."""
    p = Fraction(s).limit_denominator(100).numerator
    h, w = img.shape[:2]
    hr = img[: h - h % p, : w - w % p]
    lr = imresize(hr, 1.0 / s)
    assert round(lr.shape[0] * s) == hr.shape[0], (lr.shape, hr.shape, s)
    return hr, lr


def y_psnr(hr: np.ndarray, out: np.ndarray, s: float) -> float:
    return psnr(rgb2y(hr).astype(np.float64), rgb2y(out).astype(np.float64), border=math.ceil(s))


def candidates(s: float, avail: list[int], with_nearest: bool = True) -> dict[str, object]:
    c: dict[str, object] = {"bicubic": None}
    if float(s) not in avail and with_nearest:
        c["nearest"] = "nearest"
    above = [k for k in avail if k >= s]
    # the smallest trained factor above s (larger ones only lose more, and cost more: measured
    # at 1.1-3); above every trained factor, the largest then bicubic up
    for k in (above[:1] if above else avail[-1:]):
        c[Plan(s, (k,)).describe()] = Plan(s, (k,))
    if s > 2:  # chains of two or three trained factors with a product in [s, 2s]
        for n in (2, 3):
            for combo in itertools.product(avail, repeat=n):
                p = math.prod(combo)
                if s <= p <= 2 * s + 1e-9 and p <= 12 and (n == 2 or set(combo) == {2}):
                    c[Plan(s, combo).describe()] = Plan(s, combo)
    default = plan_for(s, avail)
    c.setdefault(default.describe(), default)
    return c


# The issue's "simple alternative" at its six factors (issue 17's table).
SIMPLE = {1.5: (2,), 2.5: (3,), 3.5: (4,), 5.0: (4,), 6.0: (2, 3), 8.0: (2, 4)}


def table_candidates(s: float, avail: list[int]) -> dict[str, object]:
    """--table: bicubic, the default plan, and at the six factors the old behaviour and the
    simple alternative."""
    c: dict[str, object] = {"bicubic": None, "ours": plan_for(s, avail)}
    if s in SIMPLE:
        c["nearest"] = "nearest"
        c["simple alternative"] = Plan(s, SIMPLE[s])
    return c


def run(sets: list[str], scales, model: str, threads: int, limit: int | None = None,
        table: bool = False) -> dict:
    root = Path(os.environ.get("SRCNN_DATASETS", Path(__file__).resolve().parents[1].parent / "shared" / "datasets"))
    avail = sorted(models_by_scale(model))
    res = {"model": model, "trained": avail, "protocol": "user: uint8 LR by MATLAB bicubic 1/s, Y PSNR, ceil(s) shave",
           "cpu": platform.processor() or platform.machine(), "rows": []}
    for s in scales:
        cands = table_candidates(s, avail) if table else \
            candidates(s, avail, with_nearest=not any(n.endswith(".txt") for n in sets))
        default = plan_for(s, avail).describe()
        row = {"scale": s, "default": default, "psnr": {}}
        for name in sets:
            if name.endswith(".txt"):
                names = [ln.strip() for ln in open(name) if ln.strip() and not ln.startswith("#")][:limit]
                imgs = [load_uint8(root / n) for n in names]
            else:
                imgs = [load_uint8(p) for p in list_images(root / name)]
            pairs = [user_pair(np.dstack([im] * 3) if im.ndim == 2 else im, s) for im in imgs]
            row["psnr"][name] = {}
            for label, how in cands.items():
                t0 = time.time()
                vals = []
                for hr, lr in pairs:
                    if how is None:
                        out = imresize(lr, s)
                    elif how == "nearest":
                        out = _direct(lr, s, resolve_model(model, s), engine="onnxruntime", tile=512,
                                      threads=threads, fast=False, int8=False)
                    else:
                        out = upscale(lr, s, model=model, plan=how, threads=threads)
                    vals.append(y_psnr(hr, out, s))
                row["psnr"][name][label] = float(np.mean(vals))
                print(f"x{s:g} {name} {label:32} {np.mean(vals):.3f}  ({time.time() - t0:.1f}s)",
                      file=sys.stderr, flush=True)
        res["rows"].append(row)
    return res


def markdown_table(res: dict) -> str:
    sets = list(res["rows"][0]["psnr"])
    head = "| s | plan | " + " | ".join(f"{n} bicubic | {n} ours | {n} before plans | {n} simple alternative"
                                        for n in sets) + " |"
    lines = [head, "|" + "---|" * (2 + 4 * len(sets))]
    for r in res["rows"]:
        cells = [f"{r['scale']:g}", r["default"]]
        for n in sets:
            d = r["psnr"][n]
            g = lambda k: f"{d[k]:.2f}" if k in d else "-"  # noqa: E731
            cells += [g("bicubic"), f"**{d['ours']:.2f}**", g("nearest"), g("simple alternative")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(res: dict) -> str:
    if "ours" in res["rows"][0]["psnr"][next(iter(res["rows"][0]["psnr"]))]:
        return markdown_table(res)
    sets = list(res["rows"][0]["psnr"])
    head = "| s | default plan | " + " | ".join(f"{n} bicubic | {n} ours | {n} best other (how)" for n in sets) + " |"
    lines = [head, "|" + "---|" * (2 + 3 * len(sets))]
    for r in res["rows"]:
        cells = [f"{r['scale']:g}", r["default"]]
        for n in sets:
            d = r["psnr"][n]
            others = {k: v for k, v in d.items() if k not in ("bicubic", r["default"])}
            best = max(others, key=others.get) if others else None
            cells += [f"{d['bicubic']:.2f}", f"**{d[r['default']]:.2f}**",
                      f"{others[best]:.2f} ({best})" if best else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default=",".join(f"{s:g}" for s in GRID))
    ap.add_argument("--sets", default="Set5,Set14",
                    help="dataset folders, or list files such as training/splits/val20.txt (where plans are chosen)")
    ap.add_argument("--limit", type=int, default=None, help="first N images of a list file")
    ap.add_argument("--table", action="store_true",
                    help="only bicubic, the default plan and (at the issue's six factors) the old behaviour "
                         "and the simple alternative: the README's table")
    ap.add_argument("--model", default="9-5-5")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None, help="also write every number here")
    a = ap.parse_args(argv)
    t0 = time.time()
    res = run(a.sets.split(","), [float(s) for s in a.scales.split(",")], a.model, a.threads, a.limit, a.table)
    res["seconds"] = round(time.time() - t0, 1)
    print(f"model {a.model} (trained x{', x'.join(map(str, res['trained']))}), {res['protocol']}, "
          f"CPU {res['cpu']}, {res['seconds']:.0f} s\n")
    print(markdown(res))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""End to end (bench/run.py's file-to-file tables): PNG file -> srcnn.upscale -> PNG file, each
case in a fresh process (case.py) for its time split and peak RSS; the synthetic inputs; tile
size and thread count."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import md_table

HERE = Path(__file__).resolve().parent


def make_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A synthetic photo-like RGB image: smooth colour fields, hard-edged shapes, fine noise."""
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.random((max(2, h // 64), max(2, w // 64), 3), dtype=np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    img = (img - img.min()) / (np.ptp(img) + 1e-6) * 180 + 30
    for _ in range(max(4, h * w // 20000)):
        c = tuple(float(v) for v in rng.integers(0, 256, 3))
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(3, max(4, min(h, w) // 8)))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), r, c, -1, lineType=cv2.LINE_AA)
        else:
            cv2.rectangle(img, (x, y), (x + r, y + r // 2), c, -1)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def input_file(workdir: Path, out_mp: float, scale: int) -> Path:
    """A PNG whose x``scale`` output has about ``out_mp`` megapixels (4:3)."""
    w = int(round((out_mp * 1e6 * 4 / 3) ** 0.5 / scale))
    h = int(round(w * 3 / 4))
    p = workdir / f"input_{w}x{h}.png"
    if not p.exists():
        from PIL import Image

        Image.fromarray(make_image(h, w)).save(p)
    return p


def run_case(spec: dict, timeout: float = 1800) -> dict:
    cmd = [sys.executable, str(HERE / "case.py"), json.dumps(spec)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"case {spec} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def total_s(res: dict) -> float:
    return res["decode"] + res["upscale"] + res["encode"]


def e2e_row(name: str, res: dict) -> list:
    total = total_s(res)
    parts = [res["decode"], res["colour"], res["bicubic"], res["cnn"], res["encode"]]
    split = " / ".join(f"{p:.2f}" for p in parts)
    share = " / ".join(f"{100 * p / total:.0f}" for p in parts)
    rss = res.get("vmhwm_mb", res["ru_maxrss_mb"])
    return [name, f"{res['mp']:.1f}", f"{total:.2f}", f"{res['mp'] / total:.2f}", f"{res['mp'] / res['upscale']:.2f}",
            split, share, f"{100 * (total - res['cnn']) / total:.1f}",
            f"{100 * (res['upscale'] - res['cnn']) / res['upscale']:.1f}",
            f"{res.get('rss_upscale_mb') or 0:.0f} / {rss:.0f}"]



E2E_HEAD = ["case", "MP", "total s", "MP/s", "MP/s upscale only",
            "s: decode / colour / bicubic / CNN / encode", "% of total", "non-CNN % (file to file)",
            "non-CNN % (upscale only)", "peak RSS MB (after upscale / whole run)"]


def bench_tiles(info, threads: int, workdir: Path, mp: float, tile_sizes, reps: int) -> str:
    """srcnn.upscale(fast=True) alone, in this process, for several tile sizes."""
    from PIL import Image
    from srcnn.fast import FastModel, upscale_fast

    img = np.asarray(Image.open(input_file(workdir, mp, info.scale)).convert("RGB"))
    fm = FastModel(info, threads)
    fm.tile_cap = None  # measure the sizes asked for (the fast path caps them, see FastModel)
    upscale_fast(img, info.scale, fm, tile=256)
    best = {t: float("inf") for t in tile_sizes}
    for _ in range(reps):
        for t in tile_sizes:
            t0 = time.perf_counter()
            out = upscale_fast(img, info.scale, fm, tile=t)
            best[t] = min(best[t], time.perf_counter() - t0)
    mpx = out.shape[0] * out.shape[1] / 1e6
    return md_table(["tile", f"{info.variant} x{info.scale} upscale s ({mpx:.1f} MP)", "MP/s"],
                    [[t, f"{v:.2f}", f"{mpx / v:.2f}"] for t, v in best.items()]), \
        {t: mpx / v for t, v in best.items()}


def threads_table(case, variants, big_mp: float, threads: int) -> str:
    """1 thread against ``threads``, file to file and upscale only, at the large size; with
    several threads also one tile at a time with every thread inside each convolution."""
    trows = []
    for v in variants:
        for path in ["fast"]:
            r1, rn = case(big_mp, v, path, 1), case(big_mp, v, path, threads)
            trows.append([f"{v} {path} ~{big_mp:g} MP", f"{total_s(r1):.2f}", f"{total_s(rn):.2f}",
                          f"{total_s(r1) / total_s(rn):.2f}", f"{r1['upscale']:.2f}", f"{rn['upscale']:.2f}",
                          f"{r1['upscale'] / rn['upscale']:.2f}"])
        if threads > 1:
            r1, rn = case(big_mp, v, "fast", 1), case(big_mp, v, "fast", threads, tile_workers=1)
            trows.append([f"{v} fast, one tile at a time, {threads} threads per convolution ~{big_mp:g} MP", f"{total_s(r1):.2f}", f"{total_s(rn):.2f}",
                          f"{total_s(r1) / total_s(rn):.2f}", f"{r1['upscale']:.2f}", f"{rn['upscale']:.2f}",
                          f"{r1['upscale'] / rn['upscale']:.2f}"])
    return md_table(["case", "1 thread s", f"{threads} threads s", "speed-up (file to file)",
                     "1 thread upscale s", f"{threads} threads upscale s", "speed-up (upscale only)"], trows)


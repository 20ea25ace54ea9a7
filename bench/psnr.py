"""Set5 PSNR of every path (bench/run.py's PSNR table): whatever the engine or path, the same
network must give the same quality, the int8 paths within their admitted drop."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common import md_table


def bench_psnr(models, folder: Path, threads: int, with_torch: bool) -> str:
    from engines import Fast, FastTiles, Fold, Reference, TorchEager, int8_widths
    from srcnn.evaluate import evaluate
    from srcnn.quant import int8_scales
    from srcnn.fast import FastModel, upscale_fast
    from srcnn.protocol import list_images, load_uint8, prepare, score
    from srcnn.resize import imresize

    rows = []
    for info in models:
        s = info.scale
        res = {}
        ref = evaluate(folder, s, Reference(info, "onnxruntime", threads), with_ssim=False)
        res["bicubic"] = ref["mean"]["bicubic"]["psnr"]
        res["onnxruntime (reference)"] = ref["mean"]["srcnn"]["psnr"]
        cnn_paths = [Reference(info, "opencv", threads), Fast(info, threads), FastTiles(info, threads)]
        if with_torch:
            cnn_paths.append(TorchEager(info, threads))
        for e in cnn_paths:
            label = {Fast.name: "fast CNN", FastTiles.name: "fast CNN, tiles"}.get(e.name, e.name.split(" (")[0])
            res[label] = \
                evaluate(folder, s, e, with_ssim=False)["mean"]["srcnn"]["psnr"]
        fm, fold = FastModel(info, threads), Fold(info, threads)
        widths = int8_widths(info)
        lr_paths = {"fast pipeline (LR in)": lambda y: upscale_fast(y, s, fm)}
        for b in (8, 7):
            fm8 = FastModel(info, threads, int8=int8_scales(info, b)) if b in widths else None
            lr_paths[f"fast int8 pipeline, {b}-bit (LR in)"] = (lambda y, fm8=fm8: upscale_fast(y, s, fm8)) if fm8 else None
        lr_paths["fold (LR in)"] = fold.upscale_y
        for name, fn in lr_paths.items():
            if fn is None:
                res[name] = float("nan")
                continue
            vals = []
            for p in list_images(folder):
                smp = prepare(p.stem, load_uint8(p), s)
                lr = imresize(smp.y_hr.astype(np.float64) / 255.0, 1.0 / s).astype(np.float32)
                vals.append(score(smp, fn(lr).astype(np.float64), s, with_ssim=False)["psnr"])
            res[name] = float(np.mean(vals))
        rows.append((info, res))
    cols = list(rows[0][1])
    out = [[i.variant, f"x{i.scale}"] + ["-" if np.isnan(r[c]) else f"{r[c]:.3f}" for c in cols] for i, r in rows]
    return md_table(["variant", "scale"] + cols, out)

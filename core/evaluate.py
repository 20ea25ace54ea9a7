"""``srcnn-cli eval``: the paper's protocol (FACTS section 1) over a folder of HR images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .border import pad_replicate
from .protocol import list_images, load_uint8, prepare, score
from .runtime import Model

__all__ = ["evaluate", "format_table"]


def evaluate(folder: str | Path, scale: int, model: Model | None = None, *, with_ssim: bool = True,
             progress=None) -> dict:
    """Bicubic (and SRCNN when ``model`` is given) PSNR/SSIM on Y for every image of ``folder``.

    Returns {'scale', 'model', 'images': [{'name', 'bicubic': {...}, 'srcnn': {...}}],
    'mean': {'bicubic': {...}, 'srcnn': {...}}}.
    """
    paths = list_images(folder)
    if not paths:
        raise ValueError(f"no images (.bmp .png .jpg .tif .webp) in {folder}")
    rows = []
    for i, p in enumerate(paths):
        s = prepare(p.stem, load_uint8(p), scale)
        row = {"name": p.stem, "bicubic": score(s, s.y_bicubic, scale, with_ssim)}
        if model is not None:
            r = model.radius
            y = model.run(pad_replicate(s.y_bicubic.astype(np.float32), r)).astype(np.float64)
            row["srcnn"] = score(s, y, scale, with_ssim)
        rows.append(row)
        if progress:
            progress(i + 1, len(paths))
    methods = ["bicubic"] + (["srcnn"] if model is not None else [])
    mean = {m: {k: float(np.mean([r[m][k] for r in rows])) for k in rows[0][m]} for m in methods}
    return {"folder": str(folder), "scale": scale,
            "model": model.info.name if model is not None else None,
            "images": rows, "mean": mean}


def format_table(res: dict) -> str:
    methods = list(res["mean"])
    keys = list(res["mean"]["bicubic"])
    head = ["image"] + [f"{m} {k.upper()}" for m in methods for k in keys]
    lines = []
    def fmt(d, k):
        return f"{d[k]:.2f}" if k == "psnr" else f"{d[k]:.4f}"
    for r in res["images"] + [{"name": "mean", **res["mean"]}]:
        lines.append([r["name"]] + [fmt(r[m], k) for m in methods for k in keys])
    widths = [max(len(head[i]), *(len(l[i]) for l in lines)) for i in range(len(head))]
    def row(cells):
        return "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells))
    title = f"{res['folder']}  x{res['scale']}" + (f"  model {res['model']}" if res["model"] else "")
    sep = "-" * len(row(head))
    return "\n".join([title, row(head), sep] + [row(l) for l in lines[:-1]] + [sep, row(lines[-1])])

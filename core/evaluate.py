"""``srcnn-cli eval``: the paper's protocol (FACTS section 1) over a folder of HR images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .border import pad_replicate
from .ensemble import run_ensemble
from .protocol import list_images, load_uint8, prepare, score
from .runtime import Model

__all__ = ["evaluate", "format_table"]


def evaluate(folder: str | Path, scale: float, model: Model | str | None = None, *, with_ssim: bool = True,
             progress=None, engine: str = "onnxruntime", ensemble: int = 1) -> dict:
    """Bicubic (and SRCNN when ``model`` is given) PSNR/SSIM on Y for every image of ``folder``.

    ``model``: a ``Model`` trained for ``scale`` runs on the protocol's bicubic image (the
    paper's test); a variant name or weight path runs ``srcnn.upscale`` on the protocol's float
    low-resolution Y, i.e. the plan for ``scale`` (``srcnn.factors``; reference path).

    ``ensemble``: passes of the self-ensemble (``srcnn.ensemble``; 1 = none), as
    ``srcnn.upscale(..., ensemble=n)`` runs it.

    Returns {'scale', 'model', 'plan', 'ensemble', 'images': [{'name', 'bicubic': {...}, 'srcnn': {...}}],
    'mean': {'bicubic': {...}, 'srcnn': {...}}}.
    """
    from .pipeline import plan_of, upscale
    from .protocol import shrink

    how = plan_of(scale, model, fast=False).describe() if isinstance(model, str) else \
        (f"x{model.info.scale}" if model is not None else None)
    paths = list_images(folder)
    if not paths:
        raise ValueError(f"no images (.bmp .png .jpg .tif .webp) in {folder}")
    rows = []
    for i, p in enumerate(paths):
        s = prepare(p.stem, load_uint8(p), scale)
        row = {"name": p.stem, "bicubic": score(s, s.y_bicubic, scale, with_ssim)}
        if isinstance(model, str):
            y_lr = shrink(s.y_hr.astype(np.float32) / np.float32(255.0), scale)
            y = upscale(y_lr, scale, model=model, engine=engine, fast=False, ensemble=ensemble).astype(np.float64)
            row["srcnn"] = score(s, y, scale, with_ssim)
        elif model is not None:
            r = model.radius
            y = run_ensemble(model.run, pad_replicate(s.y_bicubic.astype(np.float32), r), ensemble)
            y = y.astype(np.float64)
            row["srcnn"] = score(s, y, scale, with_ssim)
        rows.append(row)
        if progress:
            progress(i + 1, len(paths))
    methods = ["bicubic"] + (["srcnn"] if model is not None else [])
    mean = {m: {k: float(np.mean([r[m][k] for r in rows])) for k in rows[0][m]} for m in methods}
    return {"folder": str(folder), "scale": scale, "plan": how, "ensemble": ensemble,
            "model": (model if isinstance(model, str) else model.info.name) if model is not None else None,
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
    plan = res.get("plan")
    title = f"{res['folder']}  x{res['scale']:g}" + (f"  model {res['model']}" if res["model"] else "") \
        + (f"  (plan: {plan})" if plan and plan != f"x{res['scale']:g}" else "") \
        + (f"  ensemble of {res['ensemble']}" if res.get("ensemble", 1) > 1 else "")
    sep = "-" * len(row(head))
    return "\n".join([title, row(head), sep] + [row(l) for l in lines[:-1]] + [sep, row(lines[-1])])

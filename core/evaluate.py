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
             progress=None, engine: str = "onnxruntime", ensemble: int = 1, channels: str = "y") -> dict:
    """Bicubic (and SRCNN when ``model`` is given) PSNR/SSIM on Y for every image of ``folder``.

    ``model``: a ``Model`` trained for ``scale`` runs on the protocol's bicubic image (the
    paper's test); a variant name or weight path runs ``srcnn.upscale`` on the protocol's float
    low-resolution Y, i.e. the plan for ``scale`` (``srcnn.factors``; reference path).

    ``ensemble``: passes of the self-ensemble (``srcnn.ensemble``; 1 = none), as
    ``srcnn.upscale(..., ensemble=n)`` runs it.

    ``channels``: 'y' (the paper's Table 2 and 3: PSNR / SSIM on Y) or 'rgb': the whole colour
    pipeline on the float low-resolution RGB image (each channel shrunk with the MATLAB bicubic),
    scored as the paper's Table 5 does: PSNR of Y, Cb and Cr of the output (MATLAB rgb2ycbcr,
    uint8, shave ceil(s)) and of the image, 10 log10(255^2 / the mean of the three channels'
    MSE), the definition that reproduces the paper's bicubic 34.57 dB on Set5 x3. An RGB model
    is always scored through the colour pipeline (its 'y' result is the Y of its output).

    Returns {'scale', 'model', 'plan', 'ensemble', 'channels', 'images': [{'name', 'bicubic': {...}, 'srcnn': {...}}],
    'mean': {'bicubic': {...}, 'srcnn': {...}}}.
    """
    from .pipeline import plan_of, upscale
    from .protocol import shrink

    how = plan_of(scale, model, fast=False).describe() if isinstance(model, str) else \
        (f"x{model.info.scale}" if model is not None else None)
    rgb_model = isinstance(model, Model) and model.info.channels == 3 or \
        isinstance(model, str) and _is_rgb(model, scale)
    if channels == "rgb" or rgb_model:
        res = _evaluate_colour(folder, scale, model, engine, ensemble, progress, y_table=channels == "y")
        res.update(plan=how, ensemble=ensemble, channels=channels)
        return res
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
    return {"folder": str(folder), "scale": scale, "plan": how, "ensemble": ensemble, "channels": "y",
            "model": (model if isinstance(model, str) else model.info.name) if model is not None else None,
            "images": rows, "mean": mean}


def _is_rgb(model: str, scale: float) -> bool:
    from .runtime import resolve_model
    return resolve_model(model, scale).channels == 3


def colour_scores(hr_rgb8: np.ndarray, out_rgb: np.ndarray, shave: int) -> dict:
    """uint8 HR RGB and float output RGB in [0, 1] -> PSNR of Y, Cb, Cr and of the image."""
    from .colour import _OFFSET, _T
    from .metrics import shave as crop

    def ycc8(x):
        return np.clip(np.floor(x @ _T.T + _OFFSET + 0.5), 0, 255)  # MATLAB rgb2ycbcr, x in [0, 1]
    a = crop(ycc8(hr_rgb8.astype(np.float64) / 255.0), shave)
    b = crop(ycc8(np.asarray(out_rgb, np.float64)), shave)
    mse = ((a - b) ** 2).reshape(-1, 3).mean(axis=0)
    ps = 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-12))
    return {"psnr": float(10 * np.log10(255.0 ** 2 / max(mse.mean(), 1e-12))),
            "psnr_y": float(ps[0]), "psnr_cb": float(ps[1]), "psnr_cr": float(ps[2])}


_LUMA = np.array([0.299, 0.587, 0.114])  # full-range luma of R, G, B (the grey itself where R = G = B)


def _evaluate_colour(folder, scale, model, engine, ensemble, progress, y_table: bool = False) -> dict:
    """Table 5's scores of every image; ``y_table``: only the Y PSNR, in the Y table's terms (the
    Y of an RGB model's output; a grey image scored on its own values, as the Y protocol does)."""
    from .pipeline import upscale
    from .protocol import modcrop, shave_for, shrink
    from .resize import imresize

    paths = list_images(folder)
    if not paths:
        raise ValueError(f"no images (.bmp .png .jpg .tif .webp) in {folder}")
    rows = []
    for i, p in enumerate(paths):
        img = load_uint8(p)
        hr = modcrop(np.dstack([img] * 3) if img.ndim == 2 else img, scale)
        lr = np.ascontiguousarray(shrink(hr.astype(np.float32) / np.float32(255.0), scale))
        b = shave_for(scale)
        up = imresize(lr, scale)
        row = {"name": p.stem, "bicubic": colour_scores(hr, up, b)}
        if model is not None:
            out = upscale(lr, scale, model=model, engine=engine, fast=False, ensemble=ensemble)
            row["srcnn"] = colour_scores(hr, out, b)
        if y_table:
            row = {"name": p.stem, **{m: {"psnr": v["psnr_y"]} for m, v in row.items() if m != "name"}}
            if img.ndim == 2:
                # The Y protocol takes a grey image's own values as Y (full range), where the
                # studio-range Y of YCbCr above compresses them by 219/255 (+1.3 dB): score the
                # output's full-range luma against the grey image.
                smp = prepare(p.stem, img, scale)
                for m, o in (("bicubic", up), ("srcnn", out if model is not None else None)):
                    if o is not None:
                        row[m]["psnr"] = score(smp, np.asarray(o, np.float64) @ _LUMA, scale, with_ssim=False)["psnr"]
        rows.append(row)
        if progress:
            progress(i + 1, len(paths))
    methods = ["bicubic"] + (["srcnn"] if model is not None else [])
    mean = {m: {k: float(np.mean([r[m][k] for r in rows])) for k in rows[0][m]} for m in methods}
    return {"folder": str(folder), "scale": scale,
            "model": (model if isinstance(model, str) else model.info.name) if model is not None else None,
            "images": rows, "mean": mean}


def format_table(res: dict) -> str:
    methods = list(res["mean"])
    keys = list(res["mean"]["bicubic"])
    rgb = res.get("channels") == "rgb"
    names = {"psnr": "image PSNR" if rgb else "PSNR", "ssim": "SSIM", "psnr_y": "Y", "psnr_cb": "Cb", "psnr_cr": "Cr"}
    head = ["image"] + [f"{m} {names.get(k, k)}" for m in methods for k in keys]
    lines = []
    def fmt(d, k):
        return f"{d[k]:.2f}" if k.startswith("psnr") else f"{d[k]:.4f}"
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


def evaluate_degraded(folder: str | Path | list, scale: int, model: str | None, spec: str, *, engine: str = "onnxruntime",
                      ensemble: int = 1, int8: bool = False, channels: str = "y", progress=None) -> dict:
    """The model and bicubic on low-resolution images made as a user's file (``srcnn.degrade``).

    ``folder``: a folder of HR images, or a list of image paths.

    Per image: HR uint8 RGB mod-cropped; LR = ``srcnn.degrade.apply(spec, HR, scale, seed=i)``
    (uint8, the i-th image of the folder seeds its noise); SRCNN = ``srcnn.upscale(LR, scale)``
    as a user runs it (the default fast path, uint8 out); bicubic = MATLAB bicubic of the same
    LR. ``channels='y'``: PSNR on Y (MATLAB rgb2ycbcr of both, ceil(s) px shaved); 'rgb': the
    image PSNR of ``colour_scores``. Same result layout as ``evaluate``, plus 'degrade'.
    """
    from .colour import from_float, rgb2y
    from .degrade import apply, parse
    from .metrics import psnr
    from .pipeline import upscale
    from .protocol import modcrop, shave_for
    from .resize import imresize

    deg = parse(spec)
    paths = [Path(p) for p in folder] if isinstance(folder, (list, tuple)) else list_images(folder)
    if not paths:
        raise ValueError(f"no images (.bmp .png .jpg .tif .webp) in {folder}")
    b = shave_for(scale)
    rows = []
    for i, p in enumerate(paths):
        img = load_uint8(p)
        if channels == "rgb" and img.ndim == 2:
            img = np.dstack([img] * 3)
        hr = modcrop(img, scale)
        lr = apply(deg, hr, scale, seed=i)
        bic = imresize(lr.astype(np.float64) / 255.0, scale)
        row = {"name": p.stem}
        outs = {"bicubic": from_float(bic, np.uint8)}
        if model is not None:
            outs["srcnn"] = upscale(lr, scale, model=model, engine=engine, ensemble=ensemble, int8=int8)
        for m, o in outs.items():
            if channels == "rgb":
                row[m] = colour_scores(hr, o.astype(np.float64) / 255.0, b)
            else:
                row[m] = {"psnr": psnr(rgb2y(hr).astype(np.float64), rgb2y(o).astype(np.float64), border=b)}
        rows.append(row)
        if progress:
            progress(i + 1, len(paths))
    methods = ["bicubic"] + (["srcnn"] if model is not None else [])
    mean = {m: {k: float(np.mean([r[m][k] for r in rows])) for k in rows[0][m]} for m in methods}
    where = str(folder) if not isinstance(folder, (list, tuple)) else f"{len(paths)} images"
    return {"folder": where, "scale": scale, "model": model, "plan": None, "ensemble": ensemble,
            "channels": channels, "degrade": str(deg), "images": rows, "mean": mean}

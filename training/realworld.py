"""The real-photo grid: every model's gain over bicubic on LR made as users' files are.

One row per (model file, image set, scale, degradation): ``srcnn.evaluate.evaluate_degraded``
(the model as ``srcnn-cli`` runs it, default fast path, against MATLAB bicubic of the same uint8
LR; PSNR on Y). Rows are kept in ``docs/realworld.json`` keyed by the weight file's sha256, so a
rerun only computes what is new; ``python bench/realworld.py`` prints and writes the tables, and
``python build.py weights`` adds the rows of the files it exports (and copies them into their
manifests' ``realworld``).
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

# The issue-27 table: the paper's degradation, other resamplers, JPEG, noise.
SPECS = ("matlab", "area", "pillow-bicubic,jpeg:85", "jpeg:90", "jpeg:75", "jpeg:50", "noise:3", "noise:6")
SETS = ("Set5", "Set14", "val20")
VAL_LIST = Path("training") / "splits" / "val20.txt"


def image_set(name: str, datasets: Path) -> list[Path] | None:
    """The images of a set: a dataset folder, or val20 (the held-out list); None where absent."""
    if name == "val20":
        names = [ln.strip() for ln in VAL_LIST.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        paths = [datasets / n for n in names]
    else:
        folder = datasets / name
        if not folder.is_dir():
            return None
        from srcnn.protocol import list_images
        paths = list_images(folder)
    return paths if paths and all(p.is_file() for p in paths) else None


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"rows": []}


def grid(infos, datasets: Path, sets=SETS, specs=SPECS, known: dict | None = None, log=print) -> list[dict]:
    """Rows for every model (``srcnn.runtime.ModelInfo``) x set x spec at the model's own scale.

    ``known``: an earlier result whose rows (same sha256, set, scale, spec) are reused.
    """
    from srcnn.evaluate import evaluate_degraded

    have = {(r["sha256"], r["set"], r["scale"], r["spec"]): r for r in (known or {}).get("rows", [])}
    rows = []
    for info in infos:
        for s in sets:
            paths = image_set(s, datasets)
            if paths is None:
                continue
            for spec in specs:
                key = (info.sha256, s, info.scale, spec)
                if key not in have:
                    res = evaluate_degraded(paths, info.scale, str(info.manifest_path), spec)
                    b, m = res["mean"]["bicubic"]["psnr"], res["mean"]["srcnn"]["psnr"]
                    have[key] = {"model": info.name, "variant": info.variant, "sha256": info.sha256,
                                 "set": s, "scale": info.scale, "spec": spec, "images": len(paths),
                                 "bicubic": round(b, 4), "srcnn": round(m, 4), "gain": round(m - b, 4)}
                    log(f"{info.name} {s} x{info.scale} {spec}: bicubic {b:.2f} srcnn {m:.2f} ({m - b:+.2f})")
                rows.append(have[key])
    return rows


def merge(old: dict, rows: list[dict]) -> dict:
    """``old``'s rows with ``rows`` replacing those of the same model name, set, scale and spec."""
    new = {(r["model"], r["set"], r["scale"], r["spec"]): r for r in rows}
    kept = [r for r in old.get("rows", []) if (r["model"], r["set"], r["scale"], r["spec"]) not in new]
    return {"protocol": "srcnn.evaluate.evaluate_degraded: HR mod-cropped, LR = srcnn.degrade.apply(spec, "
                        "seed = image index) as uint8, srcnn.upscale (default fast path) vs MATLAB bicubic "
                        "of the same LR, PSNR on Y, ceil(s) px shaved; gain = srcnn - bicubic (dB)",
            "cpu": platform.processor() or platform.machine(),
            "rows": sorted(kept + rows, key=lambda r: (r["variant"], r["scale"], r["set"], SPECS.index(r["spec"])
                                                      if r["spec"] in SPECS else 99))}


def table(data: dict, variants=None, sets=("Set14", "val20")) -> str:
    """Markdown: gain over bicubic, one line per degradation, a column per (variant, set, scale)."""
    rows = [r for r in data["rows"] if (variants is None or r["variant"] in variants) and r["set"] in sets]
    cols = sorted({(r["variant"], r["set"], r["scale"]) for r in rows},
                  key=lambda c: (list(variants).index(c[0]) if variants else c[0],
                                 SETS.index(c[1]) if c[1] in SETS else 99, c[2]))
    specs = [s for s in SPECS if any(r["spec"] == s for r in rows)]
    at = {(r["variant"], r["set"], r["scale"], r["spec"]): r["gain"] for r in rows}
    head = "| LR made by | " + " | ".join(f"{v} {s} x{k}" for v, s, k in cols) + " |"
    lines = [head, "|---|" + "---|" * len(cols)]
    for spec in specs:
        cells = [f"{at[c + (spec,)]:+.2f}" if c + (spec,) in at else "" for c in cols]
        lines.append(f"| {spec} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mean_gain(data: dict, variant: str, scale: int, set_: str, specs=SPECS) -> float:
    g = [r["gain"] for r in data["rows"] if r["variant"] == variant and r["scale"] == scale
         and r["set"] == set_ and r["spec"] in specs]
    return float(np.mean(g)) if g else float("nan")

"""``python build.py report``: docs/reproduction.md and its figures from the recorded runs.

It never trains. For every row of ``srcnn.training.experiments.TABLES`` it reads
``runs/RUN/`` (args.json, log.csv, last.pt); a finished run is exported to a temporary weight
file and scored with the paper's protocol on Set5 x3 (``srcnn.evaluate``), its network timed
per Set14 image (onnxruntime, one thread, this CPU). The numbers are cached in
``runs/RUN/report.json`` (keyed by the checkpoint's step and size), so rebuilding is quick;
runs/ keeps no checkpoints of these runs (docs/training.md), so their cached numbers are
reported until a run is trained again (``python build.py experiments --only RUN``).
A run that is missing or unfinished is listed with the command that makes it.

Figures (matplotlib, ``pip install '.[report]'``): PSNR against run time per image for every
variant (with bicubic and OpenCV's FSRCNN from ``../shared/peers`` as reference points), the
training curves (validation PSNR against steps), and crops of bicubic, ours and the ground
truth on a Set14 image.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .data import default_dataset_root
from .experiments import BUDGET, COMMON, TABLES, Row, Table



def run_state(runs: Path, name: str) -> dict:
    """{'exists', 'done', 'step', 'steps'} of a run folder."""
    d = runs / name
    if not (d / "args.json").exists():
        return {"exists": False, "done": False}
    args = json.loads((d / "args.json").read_text())["args"]
    done = (d / "done").exists()
    step = int((d / "done").read_text().split()[0]) if done else None
    return {"exists": True, "done": done, "step": step, "steps": args["steps"]}


def curve(runs: Path, name: str) -> list[tuple[int, float]]:
    p = runs / name / "log.csv"
    if not p.exists():
        return []
    with open(p) as f:
        return [(int(r["step"]), float(r["val_psnr"])) for r in csv.DictReader(f) if r.get("val_psnr")]


def _cached(runs: Path, name: str, key: str, compute):
    """``runs/NAME/report.json``'s ``key``, computed (from the checkpoint) when absent or stale.
    A run whose checkpoint runs/ no longer keeps (docs/training.md) keeps its cached scores."""
    cache = runs / name / "report.json"
    ck = runs / name / "last.pt"
    data = json.loads(cache.read_text()) if cache.exists() else {}
    if not ck.exists() and key in data:
        return data[key]
    stamp = f"{ck.stat().st_size}:{run_state(runs, name).get('step')}"
    if data.get("stamp") != stamp:
        data = {"stamp": stamp}
    if key not in data:
        data[key] = compute()
        cache.write_text(json.dumps(data, indent=1))
    return data[key]


def _export(runs: Path, name: str, folder: Path) -> Path:
    from srcnn.export import write_model

    from .export import load_run
    from .model import plain_weights

    model, ck = load_run(runs / name)
    layers = [(w.numpy(), b.numpy()) for w, b in plain_weights(model)]
    return write_model(folder, name, layers, scale=ck["scales"][0], variant=model.cfg.name)


def score_y(runs: Path, name: str, datasets: Path) -> dict:
    """Set5 x3 PSNR / SSIM (paper protocol) and seconds per Set14 image of a Y-only run."""
    from srcnn.border import pad_replicate
    from srcnn.evaluate import evaluate
    from srcnn.protocol import list_images, load_uint8, prepare
    from srcnn.runtime import Model, ModelInfo

    with tempfile.TemporaryDirectory() as tmp:
        net = Model(ModelInfo.load(_export(runs, name, Path(tmp))), threads=1)
        res = evaluate(datasets / "Set5", 3, net)
        times = []
        for p in list_images(datasets / "Set14"):
            x = pad_replicate(prepare(p.stem, load_uint8(p), 3).y_bicubic.astype(np.float32), net.radius)
            net.run(x)
            t0 = time.perf_counter()
            net.run(x)
            times.append(time.perf_counter() - t0)
        params = json.loads((Path(tmp) / f"{name}.json").read_text())["architecture"]["parameters"]
    return {"psnr": res["mean"]["srcnn"]["psnr"], "ssim": res["mean"]["srcnn"]["ssim"],
            "seconds": float(np.mean(times)), "parameters": params}


def colour_psnr(ref_ycc: np.ndarray, out_ycc: np.ndarray, shave: int = 3) -> dict:
    """uint8 YCbCr images -> PSNR of Y, Cb, Cr and of the image (the paper's Table 5 'RGB':
    10 log10(255^2 / mean of the three channels' MSE); on bicubic Set5 x3 it gives 34.57)."""
    a = ref_ycc[shave:-shave, shave:-shave].astype(np.float64)
    b = out_ycc[shave:-shave, shave:-shave].astype(np.float64)
    mse = ((a - b) ** 2).reshape(-1, 3).mean(axis=0)
    ps = 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-12))
    return {"Y": ps[0], "Cb": ps[1], "Cr": ps[2], "image": 10 * np.log10(255.0 ** 2 / mse.mean())}


def score_colour(runs: Path, name: str | None, datasets: Path) -> dict:
    """Set5 x3 Table 5 columns for a run (None: bicubic): Y-only runs get bicubic Cb, Cr."""
    import torch
    import torch.nn.functional as F

    from srcnn.colour import _OFFSET, _T, rgb2ycbcr
    from srcnn.protocol import degrade, list_images, load_uint8, modcrop

    from .export import load_run

    model = load_run(runs / name)[0] if name else None
    colour = "y" if model is None or model.cfg.channels == 1 else \
        json.loads((runs / name / "args.json").read_text())["args"]["colour"]
    rows = []
    for p in list_images(datasets / "Set5"):
        img = load_uint8(p)
        img = np.dstack([img] * 3) if img.ndim == 2 else img
        hr = modcrop(img, 3)
        ycc = rgb2ycbcr(hr)
        src = hr if colour == "rgb" else ycc
        bic = degrade(src.astype(np.float64) / 255.0, 3)  # (H, W, 3) in [0, 1]
        out = bic.copy()
        if model is not None:
            r = model.cfg.shrink
            x = torch.from_numpy(np.moveaxis(bic, 2, 0).astype(np.float32))[None]
            if colour == "y":
                x = x[:, :1]
            with torch.no_grad():
                y = model(F.pad(x, (r, r, r, r), mode="replicate"))[0].double().numpy()
            if colour == "y":
                out[:, :, 0] = y[0]
            else:
                out = np.moveaxis(y, 0, 2)
        if colour == "rgb":  # RGB in [0, 1] -> YCbCr in [0, 255] (MATLAB's rgb2ycbcr on doubles)
            out = out * 255.0 @ (_T / 255.0).T + _OFFSET
        else:
            out = out * 255.0
        rows.append(colour_psnr(ycc, np.clip(np.round(out), 0, 255)))
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def fsrcnn_points(datasets: Path) -> list[dict]:
    """OpenCV's FSRCNN x3 (../shared/peers) through cv2.dnn_superres: Set5 PSNR on Y, s/image."""
    import cv2

    from srcnn.colour import rgb2y
    from srcnn.metrics import psnr
    from srcnn.protocol import list_images, load_uint8, modcrop
    from srcnn.resize import imresize

    peers = datasets.parent / "peers" / "opencv_fsrcnn"
    out = []
    for name in ("FSRCNN", "FSRCNN-small"):
        pb = peers / f"{name}_x3.pb"
        # OpenCV 5.1+ reads no .pb (its TensorFlow importer is gone): the peers then drop out
        if not pb.exists() or not hasattr(cv2, "dnn_superres") or not hasattr(cv2.dnn, "readNetFromTensorflow"):
            continue
        sr = cv2.dnn_superres.DnnSuperResImpl_create()
        sr.readModel(str(pb))
        sr.setModel("fsrcnn", 3)
        vals, times = [], []
        for p in list_images(datasets / "Set5"):
            img = load_uint8(p)
            img = np.dstack([img] * 3) if img.ndim == 2 else img
            hr = modcrop(img, 3)
            lr = imresize(hr, 1 / 3)
            t0 = time.perf_counter()
            up = sr.upsample(np.ascontiguousarray(lr[:, :, ::-1]))[:, :, ::-1]
            times.append(time.perf_counter() - t0)
            vals.append(psnr(rgb2y(hr).astype(np.float64), rgb2y(up).astype(np.float64), border=3))
        out.append({"label": f"OpenCV {name} (uint8 LR)", "psnr": float(np.mean(vals)), "seconds": float(np.mean(times))})
    return out


def shipped_points(datasets: Path) -> list[dict]:
    """The shipped Y models at x3: Set5 PSNR from their manifests, seconds per Set14 image."""
    from srcnn.border import pad_replicate
    from srcnn.protocol import list_images, load_uint8, prepare
    from srcnn.runtime import Model, available_models

    out = []
    xs = [pad_replicate(prepare(p.stem, load_uint8(p), 3).y_bicubic.astype(np.float32), 8)
          for p in list_images(datasets / "Set14")]
    for info in available_models():
        if info.scale != 3 or info.channels != 1 or "Set5" not in info.raw.get("metrics", {}):
            continue
        net = Model(info, threads=1)
        times = []
        for x in xs:
            x = x[8 - net.radius:x.shape[0] - 8 + net.radius, 8 - net.radius:x.shape[1] - 8 + net.radius]
            net.run(x)
            t0 = time.perf_counter()
            net.run(x)
            times.append(time.perf_counter() - t0)
        out.append({"label": f"shipped {info.variant}", "psnr": info.raw["metrics"]["Set5"]["srcnn"]["psnr"],
                    "seconds": float(np.mean(times))})
    return out


def cmd(row: Row) -> str:
    return f"python build.py experiments --only {row.run}"


def table_md(t: Table, results: dict, states: dict) -> list[str]:
    lines = [f"### {t.title}", "", t.what + ".", ""]
    if t.colour:
        lines += ["| strategy | paper image PSNR | ours Y | ours Cb | ours Cr | ours image PSNR | run | rerun |",
                  "|---|---|---|---|---|---|---|---|"]
    else:
        lines += ["| variant | paper Set5 x3 | ours Set5 x3 (PSNR / SSIM) | ours - paper | parameters | "
                  "s / Set14 image (ours; paper) | run | rerun |", "|---|---|---|---|---|---|---|---|"]
    for r in t.rows:
        st = states[r.run]
        paper = f"{r.paper:.2f}" if r.paper is not None else "-"
        if r.run not in results:
            why = "not run" if not st["exists"] else f"unfinished ({st.get('steps')} steps planned)"
            n = 6 if t.colour else 6
            lines.append(f"| {r.label} | {paper} | {why} |" + " |" * (n - 3) + f" `{r.run}` | `{cmd(r)}` |")
            continue
        v = results[r.run]
        if t.colour:
            lines.append(f"| {r.label} | {paper} | {v['Y']:.2f} | {v['Cb']:.2f} | {v['Cr']:.2f} | "
                         f"{v['image']:.2f} | `{r.run}` | `{cmd(r)}` |")
        else:
            d = f"{v['psnr'] - r.paper:+.2f}" if r.paper is not None else "-"
            pt = f"{r.paper_time:.2f}" if r.paper_time is not None else "-"
            lines.append(f"| {r.label} | {paper} | {v['psnr']:.2f} / {v['ssim']:.4f} | {d} | {v['parameters']:,} | "
                         f"{v['seconds']:.3f}; {pt} | `{r.run}` | `{cmd(r)}` |")
        if r.note:
            lines[-1] = lines[-1].replace(f"| {r.label} |", f"| {r.label} ({r.note}) |", 1)
    return lines + [""]


def figures(docs: Path, tables, results, states, runs: Path, datasets: Path, bic_psnr: float) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["(figures skipped: matplotlib is not installed; `pip install '.[report]'`)"]
    figs = docs / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    made = []
    # 1. speed / quality
    fig, ax = plt.subplots(figsize=(8, 5.5))
    seen, below = set(), []
    floor = bic_psnr - 1.0  # runs far below bicubic (the paper's SGD at this budget) are listed, not drawn
    for t in tables:
        if t.colour:
            continue
        for r in t.rows:
            if r.run in results and r.run not in seen:
                seen.add(r.run)
                v = results[r.run]
                label = (r.label if t.key != "data" else f"9-1-5 {r.label}").split(" (")[0]
                if v["psnr"] < floor:
                    below.append(f"{label} {v['psnr']:.2f} dB")
                    continue
                ax.scatter(v["seconds"], v["psnr"], color="C0")
                ax.annotate(label, (v["seconds"], v["psnr"]), fontsize=6, xytext=(3, 2 + 5 * (len(seen) % 3)),
                            textcoords="offset points")
    for p in shipped_points(datasets):
        ax.scatter(p["seconds"], p["psnr"], color="C2", marker="^")
        ax.annotate(p["label"], (p["seconds"], p["psnr"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for p in fsrcnn_points(datasets):
        ax.scatter(p["seconds"], p["psnr"], color="C3", marker="s")
        ax.annotate(p["label"], (p["seconds"], p["psnr"]), fontsize=7, xytext=(3, -9), textcoords="offset points")
    if below:
        ax.text(0.99, 0.02, "not drawn (below bicubic - 1 dB): " + ", ".join(below), transform=ax.transAxes,
                fontsize=7, ha="right", va="bottom", color="C0")
    ax.set_ylim(bottom=floor)
    ax.axhline(bic_psnr, color="grey", ls="--", lw=1)
    ax.text(ax.get_xlim()[0], bic_psnr + 0.03, " bicubic", fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.set_xlabel("seconds per Set14 image (network only, 1 thread, this CPU)")
    ax.set_ylabel("Set5 x3 PSNR on Y (dB)")
    ax.set_title("Speed against quality (runs of docs/reproduction.md)")
    fig.tight_layout()
    fig.savefig(figs / "speed_quality.png", dpi=120)
    plt.close(fig)
    made.append("![speed and quality](figures/speed_quality.png)")
    # 2. training curves
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in sorted({r.run for t in tables for r in t.rows if states[r.run]["exists"]}):
        c = curve(runs, name)
        if c:
            ax.plot([s for s, _ in c], [v for _, v in c], label=name, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("validation PSNR (dB, training/splits/val20.txt)")
    if ax.lines:
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(figs / "curves.png", dpi=120)
    plt.close(fig)
    made.append("![training curves](figures/curves.png)")
    # 3. visual comparison on a Set14 image with the shipped x3 model
    from srcnn.pipeline import upscale
    from srcnn.protocol import load_uint8, modcrop
    from srcnn.resize import imresize

    p = datasets / "Set14" / "ppt3.bmp"
    if not p.exists():
        p = sorted((datasets / "Set14").glob("*.bmp"))[0]
    hr = modcrop(load_uint8(p), 3)
    hr = np.dstack([hr] * 3) if hr.ndim == 2 else hr
    lr = imresize(hr, 1 / 3)
    h, w = hr.shape[:2]
    r0, c0, sz = h // 3, w // 3, min(120, h // 3, w // 3)
    crops = [("bicubic", imresize(lr, 3)), ("SRCNN 9-5-5 (shipped)", upscale(lr, 3)), ("ground truth", hr)]
    fig, axs = plt.subplots(1, 3, figsize=(9, 3.3))
    for a, (t, im) in zip(axs, crops):
        a.imshow(im[r0:r0 + sz, c0:c0 + sz], interpolation="nearest")
        a.set_title(t, fontsize=9)
        a.axis("off")
    fig.suptitle(f"Set14 {p.stem}, x3", fontsize=9)
    fig.tight_layout()
    fig.savefig(figs / "visual_x3.png", dpi=120)
    plt.close(fig)
    made.append("![visual comparison](figures/visual_x3.png)")
    return made


def build(runs: Path, docs: Path, datasets: Path) -> Path:
    states = {r.run: run_state(runs, r.run) for t in TABLES for r in t.rows}
    results = {}
    for t in TABLES:
        for r in t.rows:
            if states[r.run]["done"] and r.run not in results:
                key = "colour" if t.colour else "y"
                fn = (lambda n=r.run: score_colour(runs, n, datasets)) if t.colour else \
                    (lambda n=r.run: score_y(runs, n, datasets))
                results[r.run] = _cached(runs, r.run, key, fn)
    # the colour table needs its Y-only row scored on the colour columns too
    colour_results = {}
    for t in TABLES:
        if t.colour:
            for r in t.rows:
                if states[r.run]["done"]:
                    colour_results[r.run] = _cached(runs, r.run, "colour", lambda n=r.run: score_colour(runs, n, datasets))
    bic = score_colour(runs, None, datasets)
    from srcnn.evaluate import evaluate
    bic_y = evaluate(datasets / "Set5", 3)["mean"]["bicubic"]["psnr"]
    missing = [r.run for t in TABLES for r in t.rows if not states[r.run]["done"]]
    lines = ["# Reproducing the paper's experiments", "",
             "Written by `python build.py report` from the runs in `runs/` (it never trains). Every run: "
             f"`python build.py train {' '.join(COMMON)}` plus the row's options, i.e. the same budget for "
             f"every row ({BUDGET[1]} steps of {BUDGET[3]} patches of {BUDGET[5]}x{BUDGET[5]} at x3, "
             "about 20-30 minutes of one CPU core for 9-5-5, 4e5 patch back-propagations against the paper's "
             "8e8), chosen on nothing: the last EMA weights. Scores: the paper's protocol on Set5 x3 "
             "(`srcnn-cli eval`). The paper's numbers: FACTS section 2 (TPAMI 2016; ImageNet-trained unless "
             "the row says otherwise).", "",
             f"Bicubic Set5 x3: {bic_y:.2f} dB on Y (paper 30.39); Table 5 columns: Y {bic['Y']:.2f}, "
             f"Cb {bic['Cb']:.2f}, Cr {bic['Cr']:.2f}, image {bic['image']:.2f} (paper 34.57).", ""]
    if missing:
        missing = list(dict.fromkeys(missing))
        lines += [f"**Missing or unfinished runs ({len(missing)}):** {', '.join(f'`{m}`' for m in missing)}. "
                  "`python build.py experiments --lane a` and `--lane b` (one core each, resumable) make them.", ""]
    for t in TABLES:
        lines += table_md(t, colour_results if t.colour else results, states)
    lines += ["## Figures", ""] + figures(docs, TABLES, results, states, runs, datasets, bic_y) + [""]
    docs.mkdir(parents=True, exist_ok=True)
    out = docs / "reproduction.md"
    out.write_text("\n".join(lines))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="build.py report", description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs")
    p.add_argument("--docs", default="docs")
    p.add_argument("--datasets", default=default_dataset_root())
    a = p.parse_args(argv)
    datasets = Path(a.datasets)
    if not (datasets / "Set5").is_dir():
        print(f"build.py report: no Set5 under {datasets} (set SRCNN_DATASETS)", file=sys.stderr)
        return 1
    out = build(Path(a.runs), Path(a.docs), datasets)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

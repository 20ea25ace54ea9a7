"""``python build.py weights``: trained checkpoints -> ONNX weight files + manifests in weights/.

For each shipped model: load the EMA weights of ``runs/RUN/last.pt``, rewrite a residual
model as the equivalent plain SRCNN (n1+1 / n2+1 filters), write the ONNX conv stack, check
that onnxruntime gives what torch gives, then measure Set5 and Set14 with ``srcnn-cli eval``
and store the numbers in the manifest.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from .data import default_dataset_root
from .model import SRCNN, SRCNNConfig, plain_weights

# weight-file name -> the training run it is exported from; the stages that led to each are in
# docs/training.md and in its manifest's training.stages.
SHIPPED = {
    "srcnn_955_x2": "x2_955h",
    "srcnn_955_x3": "x3_955zf",  # ... y, z, za-zf (--regrow 8,4, stage 7): val20 28.258 -> 28.262 -> 28.265 -> 28.269 -> 28.271 -> 28.274 -> 28.276 -> 28.278
    "srcnn_955_x4": "x4_955na",  # ... y, z, za-zh (--regrow 8,4, stage 7): val20 26.743 -> 26.746 -> 26.748 -> 26.751 -> 26.752 -> 26.755 -> 26.757 -> 26.758 -> 26.760 -> 26.762; la (10,000 steps) 26.766, ma (20,000) 26.775 (stage 8), na (20,000 from ma) 26.779 (stage 9)
    "srcnn_915_x3": "x3_915k",  # x3_915h (GPU), then stage 10: i (revive + regrow) 28.032, j, k (plain): val20 28.045 -> 28.044 -> 28.052
    # stage 4: the paper's fast variants at every scale
    "srcnn_915_x2": "x2_915z",  # x2_915y (dead units revived), x2_915z: val20 30.926 -> 30.978 -> 31.008
    "srcnn_915_x4": "x4_915z",  # x4_915v, then stage 10: w (revive + regrow) 26.558, x, y, z (plain): val20 26.564 -> 26.572 -> 26.580 -> 26.585
    "srcnn_935_x3": "x3_935zc",  # x3_935v, w, x (revive), y, z, za, zb, zc (--regrow 8,4): val20 28.092 -> 28.114 -> 28.136 -> 28.143 -> 28.154 -> 28.162 -> 28.170 -> 28.175
    # the paper's colour network, each from the Y model of its scale
    "srcnn_955rgb_x3": "x3_955rgbz",  # again from the shipped x3 (x3_955x, then x3_955zf): image val20 32.895 -> 32.917 -> 32.940
    "srcnn_955rgb_x2": "x2_955rgb",
    "srcnn_955rgb_x4": "x4_955rgbna",
    # photo models (issue 27): the 9-5-5 models above fine-tuned on degraded patches
    # (training/recipes/photo.json; training/degrade.py), chosen on val20 over six degradations
    "srcnn_photo_x2": "photo_x2b",
    "srcnn_photo_x3": "photo_x3a",
    "srcnn_photo_x4": "photo_x4a",  # again from the shipped x4 (x4_955x, x4_955zh, x4_955ma, then x4_955na): image val20 31.350 -> 31.368 -> 31.388 -> 31.399 -> 31.403
}


def load_run(run_dir: Path) -> tuple[SRCNN, dict]:
    ck = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=False)
    model = SRCNN(SRCNNConfig(**ck["config"]))
    model.load_state_dict(ck["ema"])
    model.eval()
    return model, ck


def _data_names(args: dict) -> list[str]:
    names = [Path(d).name for d in (args["data"].split(",") if args.get("data") else ["T91", "BSD200_train"])]
    # The GPU stages read the same 291 images as Y-channel grey PNGs (make_y_folder.py).
    return ["T91", "BSD200_train"] if names == ["train_y"] else names


def lineage(runs: Path, run: str) -> list[dict]:
    """The chain of runs (each --init from the previous) that made ``run``, first to last."""
    chain = []
    while run and len(chain) < 20:
        meta = json.loads((runs / run / "args.json").read_text())
        a = meta["args"]
        chain.append({"run": run, "steps": a["steps"], "lr": a["lr"], "batch": a["batch"], "patch": a["patch"],
                      "hr_scales": a.get("hr_scales", "1"), "pad_borders": a.get("pad_borders", False),
                      # (the first GPU runs predate the "device" entry; they were the --deadline ones)
                      "device": meta.get("device", "cuda" if a.get("deadline") else "cpu")})
        run = Path(a["init"]).parent.name if a.get("init") else None
    return chain[::-1]


def check_onnx_matches_torch(model: SRCNN, onnx_path: Path, tol: float = 1e-5) -> float:
    import onnxruntime as ort

    x = torch.rand(1, model.cfg.channels, 61, 47)
    with torch.no_grad():
        ref = model(x).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"input": x.numpy()})[0]
    err = float(np.abs(out - ref).max())
    if err > tol:
        raise RuntimeError(f"{onnx_path.name}: ONNX differs from torch by {err:g} (> {tol:g})")
    return err


def run_eval(onnx_path: Path, folder: Path, scale: int, ensemble: bool = True) -> dict:
    """``srcnn-cli eval`` of one weight file on one folder; with ``ensemble`` also ``--ensemble``."""
    def once(*extra):
        r = subprocess.run([sys.executable, "-m", "srcnn.cli", "eval", str(folder), "--scale", str(scale),
                            "--model", str(onnx_path), "--json", *extra], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip())
        return json.loads(r.stdout)
    res = once()
    out = {"bicubic": res["mean"]["bicubic"], "srcnn": res["mean"]["srcnn"],
           "per_image": {i["name"]: i["srcnn"] for i in res["images"]}}
    if ensemble:
        e = once("--ensemble")
        out["ensemble"] = dict(e["mean"]["srcnn"], passes=e["ensemble"])
    c = once("--channels", "rgb", "--no-ssim")
    out["colour"] = {"bicubic": c["mean"]["bicubic"], "srcnn": c["mean"]["srcnn"],
                     "protocol": "srcnn-cli eval --channels rgb (the paper's Table 5 image PSNR)"}
    return out


VAL_LIST = Path("training") / "splits" / "val20.txt"  # in the checkout (build.py runs there)


def validation_psnr(onnx_path: Path, datasets: Path, scale: int) -> dict | None:
    """PSNR (protocol, single pass) on the held-out validation split that runs are chosen on."""
    from srcnn.border import pad_replicate
    from srcnn.protocol import load_uint8, prepare, score
    from srcnn.runtime import Model, ModelInfo

    names = [ln.strip() for ln in VAL_LIST.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    paths = [datasets / n for n in names]
    if not all(p.is_file() for p in paths):
        return None
    net = Model(ModelInfo.load(onnx_path))
    vals, bic = [], []
    if net.info.channels == 3:  # the image PSNR of the paper's Table 5, through the pipeline
        from srcnn.evaluate import colour_scores
        from srcnn.pipeline import upscale
        from srcnn.protocol import modcrop, shrink
        from srcnn.resize import imresize
        for p in paths:
            hr = modcrop(load_uint8(p), scale)
            lr = np.ascontiguousarray(shrink(hr.astype(np.float32) / np.float32(255.0), scale))
            vals.append(colour_scores(hr, upscale(lr, scale, model=net, fast=False), scale)["psnr"])
            bic.append(colour_scores(hr, imresize(lr, scale), scale)["psnr"])
        return {"split": "training/splits/val20.txt (20 BSDS500_test images held out of training)",
                "metric": "image PSNR (paper's Table 5)", "srcnn_psnr": float(np.mean(vals)),
                "bicubic_psnr": float(np.mean(bic))}
    for p in paths:
        smp = prepare(p.stem, load_uint8(p), scale)
        y = net.run(pad_replicate(smp.y_bicubic.astype(np.float32), net.radius)).astype(np.float64)
        vals.append(score(smp, y, scale, with_ssim=False)["psnr"])
        bic.append(score(smp, smp.y_bicubic, scale, with_ssim=False)["psnr"])
    return {"split": "training/splits/val20.txt (20 BSDS500_test images held out of training)",
            "srcnn_psnr": float(np.mean(vals)), "bicubic_psnr": float(np.mean(bic))}


def export(name: str, run: str, runs: Path, out: Path, datasets: Path) -> Path:
    from srcnn.export import write_model

    model, ck = load_run(runs / run)
    cfg = model.cfg
    layers = [(w.numpy(), b.numpy()) for w, b in plain_weights(model)]
    scales = ck["scales"]
    if len(scales) != 1:
        raise ValueError(f"run {run} is multi-scale {scales}; export a per-scale run")
    scale = scales[0]
    args = ck["args"]
    training = {
        "run": run,
        "steps": ck["step"],
        "data": _data_names(args),
        "trained_as": f"{cfg.name} n1={cfg.n1} n2={cfg.n2}" + (", residual (exported as a plain SRCNN with "
                                                              f"n1={cfg.n1 + 1}, n2={cfg.n2 + 1})" if cfg.residual else ""),
        "recipe": f"python build.py reproduce {run} --out DIR (reruns the stages below)",
        "optimizer": args["optimizer"], "lr": args["lr"], "schedule": args["schedule"],
        "batch": args["batch"], "patch": args["patch"], "ema": args["ema"], "init": args.get("init"),
        "stages": lineage(runs, run),
        "augmentation": "random crops, flips, 90-degree rotations"
                        + (f", shrunk copies x{args['hr_scales']}" if args.get("hr_scales", "1") != "1" else "")
                        + (", patches into the replicate padding" if args.get("pad_borders") else ""),
        "degradation": "MATLAB-compatible bicubic (srcnn.resize) on " +
                       ("R, G and B" if args.get("colour") == "rgb" else "Y of MATLAB rgb2ycbcr"),
    }
    colour = args.get("colour", "y")
    if colour not in ("y", "rgb"):
        raise ValueError(f"run {run} is a {colour} network; the pipeline ships Y and RGB models")
    variant = "photo" if args.get("degrade") else cfg.name + ("-rgb" if colour == "rgb" else "")
    if args.get("degrade"):
        from .train import parse_mix
        mix = parse_mix(args.get("mix"))
        training["degradation"] = ("drawn per patch (training/degrade.py): " + ", ".join(
            f"{k}={v}" for k, v in vars(mix).items()) + "; clean = MATLAB bicubic as above")
    manifest = write_model(out, name, layers, scale=scale, variant=variant, colour=colour,
                           extra={"training": training})
    err = check_onnx_matches_torch(model, out / f"{name}.onnx")
    metrics = {}
    for ds in ("Set5", "Set14"):
        folder = datasets / ds
        if folder.is_dir():
            metrics[ds] = run_eval(out / f"{name}.onnx", folder, scale)
    m = json.loads(manifest.read_text())
    m["onnx_vs_torch_max_abs_diff"] = err
    m["metrics"] = metrics
    m["metrics_protocol"] = ("srcnn-cli eval (Y, MATLAB bicubic, shave = scale); PSNR dB / SSIM; "
                             "'ensemble': srcnn-cli eval --ensemble")
    val = validation_psnr(out / f"{name}.onnx", datasets, scale)
    if val:
        m["validation"] = val
    manifest.write_text(json.dumps(m, indent=2) + "\n")
    if colour == "y":  # the checkout's table for the shipped weights, one beside any other output
        add_realworld(manifest, datasets, Path("docs") / "realworld.json" if out.resolve() == Path("weights").resolve()
                      else out / "realworld.json")
    return manifest


def add_realworld(manifest: Path, datasets: Path, table: Path = Path("docs") / "realworld.json") -> None:
    """The real-photo grid of one weight file (training/realworld.py): its rows go into
    docs/realworld.json (where they are kept by sha256) and into the manifest's ``realworld``."""
    from srcnn.runtime import ModelInfo
    from . import realworld as rw

    info = ModelInfo.load(manifest)
    known = rw.load(table)
    rows = rw.grid([info], datasets, known=known, log=lambda s: print(s, file=sys.stderr, flush=True))
    if not rows:
        return
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text(json.dumps(rw.merge(rw.load(table), rows), indent=1) + "\n")  # read again: rows may have come meanwhile
    m = json.loads(manifest.read_text())
    m["realworld"] = {"protocol": "srcnn-cli eval --degrade SPEC (see docs/realworld.md); dB",
                      "rows": [{k: r[k] for k in ("set", "spec", "bicubic", "srcnn", "gain")} for r in rows]}
    manifest.write_text(json.dumps(m, indent=2) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="build.py weights", description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs")
    p.add_argument("--out", default="weights")
    p.add_argument("--only", nargs="*", help="weight names to export (default: all shipped)")
    p.add_argument("--run", help="export this run instead (with --name)")
    p.add_argument("--name", help="weight file name for --run")
    args = p.parse_args(argv)
    datasets = Path(default_dataset_root())
    todo = {args.name: args.run} if args.run else {k: v for k, v in SHIPPED.items()
                                                   if not args.only or k in args.only}
    for name, run in todo.items():
        if not (Path(args.runs) / run / "done").exists():
            print(f"{name}: runs/{run} is not finished (no runs/{run}/done), skipped", file=sys.stderr)
            continue
        man = export(name, run, Path(args.runs), Path(args.out), datasets)
        m = json.loads(man.read_text())
        s = m["metrics"]
        line = "  ".join(f"{ds} {v['srcnn']['psnr']:.3f} dB, ensemble {v['ensemble']['psnr']:.3f} "
                         f"(bicubic {v['bicubic']['psnr']:.2f})" for ds, v in s.items())
        if "validation" in m:
            line += f"  val20 {m['validation']['srcnn_psnr']:.3f}"
        print(f"{name}: x{m['scale']} {m['variant']} step {m['training']['steps']}  {line}", flush=True)
    done = [n for n in todo if (Path(args.out) / f"{n}.json").exists()]
    code = 0
    if done and (datasets / "T91").is_dir():  # the manifests were rewritten: calibrate int8 again
        from srcnn.quant import main as int8

        code = int8(["--weights", args.out, "--datasets", str(datasets), "--only", *done])
    if code or Path(args.out).resolve() != Path("weights").resolve():
        return code
    from .docs import main as docs  # the tables of README.md and docs/ quote these manifests

    return docs([])


if __name__ == "__main__":
    sys.exit(main())

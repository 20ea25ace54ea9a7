#!/usr/bin/env python3
"""SRCNN speed and memory benchmark: prints markdown tables (issue 7).

    python bench/run.py                 # full run, a few minutes on a 2-core machine
    python bench/run.py --quick         # smoke run, ~30 s: small sizes, fewer repeats
    python bench/run.py --weights DIR   # another weights folder (default: SRCNN_WEIGHTS or weights/)
    python bench/run.py --no-big        # skip the ~100 MP peak-RSS case
    python bench/run.py --plot          # also PNG figures in docs/figures (stage split, tile size)

Sections: machine; fp32 matmul peak; the CNN alone per model and engine (effective GFLOP/s =
direct-convolution FLOPs / time, and its ratio to the peak); end-to-end decode -> upscale ->
encode in a fresh process per case (time split and peak RSS); int8 (8- and 7-bit activations)
against float32; threads; Set5 PSNR of every path; the self-ensemble's passes; the issue's
targets with pass/fail. Timings are best-of-N wall clock on whatever else the
machine is doing: the header prints the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from srcnn.runtime import usable_cores

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

TARGETS = [  # (key, what, must, aim, higher is better)
    ("cnn_peak", "9-5-5 CNN effective throughput / fp32 matmul peak", 0.60, 0.90, True),
    ("ratio_915", "9-1-5 end-to-end speed / 9-5-5 end-to-end speed", 4.0, 6.0, True),
    ("non_cnn", "everything but the CNN, share of end-to-end time at ~12 MP", 0.10, 0.05, False),
    ("rss_100", "peak RSS for a ~100 MP output (GB)", 1.5, 0.8, False),
    ("threads", "2 threads / 1 thread speed-up", 1.7, 1.9, True),
]


def md_table(head, rows) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def say(text=""):
    print(text, flush=True)


# ---------------------------------------------------------------- machine and peak
def machine_info() -> dict:
    import importlib.metadata as md

    cpu, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vers = {}
    for pkg in ("numpy", "onnxruntime", "opencv-contrib-python-headless", "opencv-python", "torch", "pillow"):
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    mem = ""
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024 ** 2:.0f} GiB"
    except (OSError, StopIteration):
        pass
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]
    return {"cpu": cpu, "cores": os.cpu_count(), "affinity": usable_cores(),
            "isa": " ".join(isa), "memory": mem, "python": platform.python_version(),
            "versions": vers, "load": os.getloadavg()}


PEAK_CODE = r"""
import json, sys, time
import numpy as np
n, reps, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
res = {}
rng = np.random.default_rng(0)
a = rng.random((n, n), dtype=np.float32); b = rng.random((n, n), dtype=np.float32)
a @ b
best = min((lambda t: (a @ b, time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(reps))
res["numpy"] = 2 * n ** 3 / best / 1e9
try:
    import torch
    torch.set_num_threads(threads)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    torch.mm(ta, tb)
    best = min((lambda t: (torch.mm(ta, tb), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(reps))
    res["torch"] = 2 * n ** 3 / best / 1e9
except ImportError:
    pass
print(json.dumps(res))
"""


def measure_peak(threads: int, n: int, reps: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    r = subprocess.run([sys.executable, "-c", PEAK_CODE, str(n), str(reps), str(threads)], env=env,
                       capture_output=True, text=True, check=True)
    res = json.loads(r.stdout)
    res["peak"] = max(res.values())
    return res


# ---------------------------------------------------------------- CNN alone
def best_of(fn, reps: int, settle: float = 0.5) -> float:
    """Best wall time of ``reps`` calls after a warm-up, one engine at a time.

    Engines are not interleaved: a thread pool (onnxruntime's, OpenCV's, torch's OpenMP) keeps
    spinning for a while after its call and would slow whichever engine ran next (measured:
    the tiled fast CNN 204-235 GFLOP/s right after the one-call one, 269-316 on its own).
    ``settle`` seconds of sleep after the engine let its threads go idle.
    """
    fn()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    time.sleep(settle)
    return best


def bench_cnn(models, threads: int, size: int, reps: int, with_torch: bool, peak: float) -> tuple[str, dict]:
    from engines import Fast, FastTiles, FastTilesInt8, Fold, Reference, TorchEager, direct_flops, int8_widths
    from srcnn.onnxmini import read_conv_stack

    rows, found = [], {}
    for info in models:
        layers = read_conv_stack(info.onnx_path.read_bytes())
        engines = [Reference(info, "onnxruntime", threads), Fast(info, threads), FastTiles(info, threads),
                   Reference(info, "opencv", threads), Fold(info, threads)]
        if with_torch:
            engines.append(TorchEager(info, threads))
        engines += [FastTilesInt8(info, threads, b) for b in int8_widths(info)]
        r = engines[0].radius
        rng = np.random.default_rng(0)
        y = rng.random((size + 2 * r, size + 2 * r), dtype=np.float32)
        fold = engines[4]
        lr = rng.random((fold.lr_len(size),) * 2, dtype=np.float32)
        calls = {}
        for e in engines:
            if isinstance(e, Fold):
                calls[e.name] = (lambda e=e: e.run_lr(lr), fold.geo.out_len(lr.shape[0]))
            else:
                calls[e.name] = (lambda e=e: e.run(y), size)
        best = {k: best_of(fn, reps) for k, (fn, _) in calls.items()}
        for k, (fn, n) in calls.items():
            fl = direct_flops(layers, n, n)
            g = fl / best[k] / 1e9
            found[(info.variant, info.scale, k)] = g
            rows.append([info.variant, f"x{info.scale}", k, f"{n}x{n}", f"{best[k] * 1e3:.1f}",
                         f"{fl / 1e9:.1f}", f"{g:.1f}", f"{g / peak:.2f}"])
    head = ["variant", "scale", "engine", "output", "ms", "GFLOP", "GFLOP/s", "/ peak"]
    return md_table(head, rows), found


def bench_ort_options(info, threads: int, size: int, reps: int, peak: float) -> str:
    """The CNN under onnxruntime session options: optimisation level, memory arena, spinning."""
    import onnxruntime as ort
    from engines import Fast, direct_flops
    from srcnn.onnxmini import read_conv_stack

    layers = read_conv_stack(info.onnx_path.read_bytes())
    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}

    def ref_session(level="all", arena=True, spin=True):
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.graph_optimization_level = levels[level]
        so.enable_cpu_mem_arena = arena
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        sess = ort.InferenceSession(str(info.onnx_path), so, providers=["CPUExecutionProvider"])
        return lambda y: sess.run(None, {sess.get_inputs()[0].name: y[None, None]})[0]

    def fast(level="all", arena=True, spin=True):
        f = Fast(info, threads, opt_level=level,
                 session_config={"session.intra_op.allow_spinning": "1" if spin else "0"})
        if not arena:
            so = f.fm.session_options(f.fm.cnn_threads)
            so.enable_cpu_mem_arena = False
            f.sess = ort.InferenceSession(_fast_cnn_bytes(f.fm), so, providers=["CPUExecutionProvider"])
        return f.run

    configs = {}
    for lvl in levels:
        configs[f"reference, optimisation {lvl}"] = ref_session(lvl)
    configs["reference, all, no memory arena"] = ref_session(arena=False)
    configs["reference, all, no spinning"] = ref_session(spin=False)
    for lvl in levels:
        configs[f"fast, optimisation {lvl}"] = fast(lvl)
    configs["fast, all, no memory arena"] = fast(arena=False)
    configs["fast, all, no spinning"] = fast(spin=False)
    r = sum(w.shape[2] // 2 for w, _ in layers)
    y = np.random.default_rng(0).random((size + 2 * r, size + 2 * r), dtype=np.float32)
    best = {k: best_of(lambda fn=fn: fn(y), reps) for k, fn in configs.items()}
    fl = direct_flops(layers, size, size)
    rows = [[k, f"{v * 1e3:.1f}", f"{fl / v / 1e9:.1f}", f"{fl / v / 1e9 / peak:.2f}"] for k, v in best.items()]
    return md_table(["9-5-5 x%d CNN, %dx%d, %d threads" % (info.scale, size, size, threads), "ms", "GFLOP/s", "/ peak"], rows)


def _fast_cnn_bytes(fm) -> bytes:
    from srcnn.fast import cnn_graph
    from srcnn.onnxmini import Graph

    g = Graph("srcnn_fast_cnn")
    x = g.input("input", np.float32, [1, 1, "H", "W"])
    g.add("Identity", [cnn_graph(g, x, fm.layers, fm.block)], out="output")
    g.output("output", np.float32, [1, 1, "Ho", "Wo"])
    return g.serialize()


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


# ---------------------------------------------------------------- end to end
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


# ---------------------------------------------------------------- PSNR
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


# ---------------------------------------------------------------- figures
def machine_kind(m: dict) -> str:
    """A short name for the machine kind in file names: e.g. 'avx512-vnni' or 'avx2'."""
    isa = m["isa"].split()
    return "avx512-vnni" if "avx512_vnni" in isa else "avx512" if "avx512f" in isa else "avx2" if "avx2" in isa else "other"


def plot_figures(folder: Path, m: dict, stage_rows, tile_curves: dict, threads: int) -> list[Path]:
    """The stage split of each end-to-end case as stacked bars, and throughput against tile
    size; PNG files named by the machine kind (bench_stages_KIND.png, bench_tiles_KIND.png)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    kind = machine_kind(m)
    title = f"{m['cpu']} ({m['isa'] or 'no AVX2'}), {threads} threads, load {m['load'][0]:.1f} at start"
    out = []
    if stage_rows:
        parts = ["decode", "colour", "bicubic", "cnn", "encode"]
        colours = ["#8c8c8c", "#e6a532", "#5aa05a", "#3c6eb4", "#b45a5a"]
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(stage_rows) + 1.6))
        names = [f"{n} ~{mp:g} MP" for n, mp, _ in stage_rows]
        left = np.zeros(len(stage_rows))
        for part, c in zip(parts, colours):
            v = np.array([r[part] for _, _, r in stage_rows])
            ax.barh(names, v, left=left, color=c, label="CNN" if part == "cnn" else part)
            left += v
        for k, total in enumerate(left):
            ax.text(total, k, f" {total:.2f} s", va="center", fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("seconds, PNG file to PNG file (x3)")
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=8, ncol=5, loc="lower right")
        ax.set_xlim(0, left.max() * 1.15)
        fig.tight_layout()
        p = folder / f"bench_stages_{kind}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        out.append(p)
    if tile_curves:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for name, curve in tile_curves.items():
            ts = sorted(curve)
            ax.plot(ts, [curve[t] for t in ts], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({t for c in tile_curves.values() for t in c}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("tile side (output pixels)")
        ax.set_ylabel("output MP/s (upscale only)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(title, fontsize=7)
        fig.tight_layout()
        p = folder / f"bench_tiles_{kind}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        out.append(p)
    return out


# ---------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None, help="weights folder (default: SRCNN_WEIGHTS or the shipped weights/)")
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, few repeats (~30 s)")
    ap.add_argument("--no-big", action="store_true", help="skip the ~100 MP peak-RSS case")
    ap.add_argument("--threads", type=int, default=None, help="threads for the main runs (default: all cores)")
    ap.add_argument("--datasets", default=os.environ.get("SRCNN_DATASETS", str(ROOT.parent / "shared" / "datasets")))
    ap.add_argument("--workdir", default=None,
                    help="where the synthetic input images are cached (default: ~/.cache/srcnn-bench)")
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    ap.add_argument("--tile", type=int, default=512, help="tile size of the end-to-end cases")
    ap.add_argument("--big-model", default="9-1-5", help="variant of the ~100 MP case (default 9-1-5: quicker, same memory)")
    ap.add_argument("--plot", action="store_true",
                    help="also write PNG figures (matplotlib, the [test] extra): the stage split per case and "
                         "throughput against tile size")
    ap.add_argument("--plot-dir", default=str(ROOT / "docs" / "figures"), help="where --plot writes (default docs/figures)")
    ap.add_argument("--no-ensemble", action="store_true", help="skip the self-ensemble table")
    args = ap.parse_args(argv)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            say("--plot needs matplotlib: pip install '.[test]' (or pip install matplotlib)")
            return 2

    if args.weights:
        os.environ["SRCNN_WEIGHTS"] = str(Path(args.weights).resolve())
    from srcnn.runtime import available_models, weights_dir

    wdir = weights_dir()
    models = available_models(wdir)
    if not models:
        say(f"no weight files in {wdir}: ship weights, pass --weights DIR, or make test weights with "
            f"`python bench/testweights.py DIR`")
        return 2
    from engines import torch_available

    # Speed is measured on the Y models (the fast path); a colour network (9-5-5-rgb) takes the
    # reference path at about the cost of three 9-5-5 runs.
    ymodels = [i for i in models if i.channels == 1]

    threads = args.threads or usable_cores()
    quick = args.quick
    with_torch = torch_available()
    raw: dict = {}
    t_start = time.time()

    m = machine_info()
    raw["machine"] = m
    say(f"# SRCNN benchmark{' (--quick)' if quick else ''}\n")
    say(f"- CPU: {m['cpu']}, {m['cores']} logical cores ({m['affinity']} usable), {m['isa']}, {m['memory']}")
    say(f"- Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    say(f"- weights: {wdir} ({', '.join(f'{i.variant} x{i.scale}' for i in models)})")
    say(f"- load average at start: {' '.join(f'{v:.2f}' for v in m['load'])} (timings are best-of-N wall clock; "
        f"other work on the machine slows them)")
    say(f"- threads: {threads} (main runs), 1 (threads table)\n")

    # peak
    n, reps = (1024, 3) if quick else (2048, 6)
    peaks = {t: measure_peak(t, n, reps) for t in sorted({threads, 1})}
    raw["peak"] = {str(k): v for k, v in peaks.items()}
    peak = peaks[threads]["peak"]
    say("## fp32 matrix-multiply peak (best of %d, %dx%d)\n" % (reps, n, n))
    say(md_table(["threads", "numpy GFLOP/s", "torch GFLOP/s", "peak"],
                 [[t, f"{p['numpy']:.0f}", f"{p['torch']:.0f}" if "torch" in p else "-", f"{p['peak']:.0f}"]
                  for t, p in peaks.items()]) + "\n")

    # CNN
    size, reps = (256, 2) if quick else (512, 4)
    cnn_models = [i for i in ymodels if not quick or i.scale == 3]
    say(f"## The CNN alone ({threads} threads; input pre-upsampled Y padded by the radius, output {size}x{size}; "
        f"fold: LR input, same output size or a little more; best of {reps})\n")
    table, cnn = bench_cnn(cnn_models, threads, size, reps, with_torch, peak)
    say(table + "\n")
    raw["cnn"] = {" ".join(map(str, k)): v for k, v in cnn.items()}

    x3_955 = next((i for i in ymodels if i.variant == "9-5-5" and i.scale == 3), ymodels[0])
    say(f"### onnxruntime session options (best of {reps})\n")
    say(bench_ort_options(x3_955, threads, size, reps, peak) + "\n")

    # end to end
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "srcnn-bench"
    workdir = Path(args.workdir) if args.workdir else cache
    workdir.mkdir(parents=True, exist_ok=True)
    scale = 3
    tile_curves: dict = {}
    if not quick:
        say(f"### Tile size (fast path, upscale only, in this process, {threads} threads)\n")
        for info in [x3_955] + [i for i in models if i.variant == "9-1-5" and i.scale == 3][:1]:
            table, tile_curves[f"{info.variant} x{info.scale}"] = bench_tiles(info, threads, workdir, 4.0,
                                                                             [128, 192, 256, 512, 1024], 2)
            say(table + "\n")
        say("(The fast path caps tiles at 256, 192 for a 1x1 middle layer; this table lifts the cap.)\n")
    variants = sorted({i.variant for i in ymodels if i.scale == scale}, key=lambda v: v != "9-5-5")
    from engines import int8_widths
    int8_of = {i.variant: int8_widths(i) for i in models if i.scale == scale}
    int8_variants = {v for v, w in int8_of.items() if w}
    sizes = [1.0] if quick else [1.0, 12.0]
    big_mp = sizes[-1]
    tile = args.tile
    e2e: dict = {}

    def case(mp, v, path, t, **extra):
        key = (mp, v, path, t) + tuple(sorted(extra.items()))
        if key not in e2e:
            spec = {"input": str(input_file(workdir, mp, scale)), "weights": str(wdir), "model": v,
                    "scale": scale, "path": path, "threads": t, "tile": tile, **extra}
            e2e[key] = run_case(spec)
        return e2e[key]

    rows, stage_rows = [], []
    say(f"## End to end: PNG file -> srcnn.upscale x{scale} -> PNG file, one fresh process per case "
        f"({threads} threads, tile {tile}; fast = `srcnn.upscale(..., fast=True)`)\n")
    for mp in sizes:
        for v in variants:
            for path in ["fast", "reference"] + (["opencv"] if mp <= 1.0 and not quick else []):
                rows.append(e2e_row(f"{v} {path} ~{mp:g} MP", case(mp, v, path, threads)))
                stage_rows.append((f"{v} {path}", mp, case(mp, v, path, threads)))
            for b in int8_of.get(v, []):
                r8 = case(mp, v, "fast", threads, int8=b)
                rows.append(e2e_row(f"{v} fast --int8 {b}-bit ~{mp:g} MP ({r8.get('fallbacks', 0)} tiles rerun)", r8))
                stage_rows.append((f"{v} --int8 {b}-bit", mp, r8))
    say(md_table(E2E_HEAD, rows) + "\n")
    say("colour = colour conversion, tiling, rounding and copies (all but bicubic and CNN inside upscale); "
        "the fast path's split inside its graph comes from onnxruntime's profiler.\n")
    whatif = [] if quick else [("PNG zlib level 6", {"png_level": 6}), ("JPEG q95", {"format": "jpg"})]
    rows = []
    for label, extra in whatif:
        for v in variants:
            rows.append(e2e_row(f"{v} fast ~{big_mp:g} MP, {label}", case(big_mp, v, "fast", threads, **extra)))
    if rows:
        say(f"What-if (the writer, not SRCNN, dominates): the same ~{big_mp:g} MP cases written as PNG with zlib "
            "level 6 (srcnn.imageio's default is 1, OpenCV's) or as JPEG:\n")
        say(md_table(E2E_HEAD, rows) + "\n")

    if args.plot:
        for f in plot_figures(Path(args.plot_dir), m, [r for r in stage_rows if r[1] == big_mp], tile_curves, threads):
            say(f"figure: {f}")
        say()

    # threads
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
    say(f"## Threads: 1 against {threads}\n")
    say(md_table(["case", "1 thread s", f"{threads} threads s", "speed-up (file to file)",
                  "1 thread upscale s", f"{threads} threads upscale s", "speed-up (upscale only)"], trows) + "\n")

    # 100 MP
    big = None
    big_v = args.big_model if args.big_model in variants else variants[-1]
    big_cmd = (f"python bench/case.py '{{\"input\": \"<LR PNG of about 3850x2890>\", \"weights\": \"{wdir}\", "
               f"\"model\": \"{big_v}\", \"scale\": 3, \"path\": \"fast\", \"threads\": {threads}, \"tile\": {tile}, "
               f"\"profile\": false}}'")
    if not quick and not args.no_big:
        big = case(100.0, big_v, "fast", threads, profile=False)
        say(f"## ~100 MP output ({big_v} fast, for its peak RSS; the tile working set is the same for 9-5-5 "
            f"and 9-1-5, whose 64-channel layer-1 output dominates it; `--big-model 9-5-5` to run that)\n")
        say(md_table(E2E_HEAD, [e2e_row(f"{big_v} fast ~100 MP", big)]) + "\n")
    else:
        say(f"## ~100 MP output: skipped. Run: `{big_cmd}` (or `python bench/run.py` without --quick/--no-big)\n")

    # PSNR
    psnr_dir = Path(args.datasets) / "Set5"
    if psnr_dir.is_dir():
        say("## Set5 PSNR (dB, Y, the paper's protocol) of every path\n")
        say(bench_psnr([i for i in ymodels if not quick or (i.scale, i.variant) == (3, "9-5-5")], psnr_dir, threads,
                       with_torch) + "\n")
        say("fold (LR in): exact inside, differs within the receptive-field radius of the edge (see bench/fold.py).\n")
    else:
        say(f"## Set5 PSNR: skipped (no {psnr_dir}; pass --datasets)\n")

    # self-ensemble
    if not args.no_ensemble and psnr_dir.is_dir():
        import ensemble as ens_bench

        pick = [i for i in ymodels if i.scale == 3 and (not quick or i.variant == "9-5-5")]
        say("## Self-ensemble: passes against Set5 PSNR and time (`--ensemble`, `--passes 2|4|8`)\n")
        ens_bench.main(["--sets", "Set5", "--no-alternatives", "--only", ",".join(i.name for i in pick),
                        *(["--threads", str(threads)] if threads else [])])
        say("\n`--ensemble` runs 8 passes (the best-quality mode); every model x2/x3/x4 on Set5 and Set14, "
            "with the other choices of symmetries: `python bench/ensemble.py` (docs/ensemble.md).\n")

    # targets
    def ratios(get):
        """The issue's ratios from one way of timing a case (get: case -> seconds)."""
        vals = {}
        if "9-1-5" in variants:
            vals["ratio_915"] = get(case(big_mp, "9-5-5", "fast", threads)) / get(case(big_mp, "9-1-5", "fast", threads))
        if threads > 1:
            vals["threads"] = get(case(big_mp, "9-5-5", "fast", 1)) / get(case(big_mp, "9-5-5", "fast", threads))
        return vals

    vals = {}
    # the CNN as srcnn.upscale(fast=True) runs it: tiles in parallel, one thread each
    from engines import Fast, FastTiles
    fast_key = ("9-5-5", 3, FastTiles.name)
    if fast_key in cnn:
        vals["cnn_peak"] = cnn[fast_key] / peak
    vals.update(ratios(total_s))
    r = case(big_mp, "9-5-5", "fast", threads)
    vals["non_cnn"] = (total_s(r) - r["cnn"]) / total_s(r)
    if big:
        vals["rss_100"] = big.get("vmhwm_mb", big["ru_maxrss_mb"]) / 1024
    alt = {"upscale only": ratios(lambda x: x["upscale"])}
    alt["upscale only"]["non_cnn"] = (r["upscale"] - r["cnn"]) / r["upscale"]
    if big:
        alt["upscale only"]["rss_100"] = (big.get("rss_upscale_mb") or 0) / 1024
    for label, extra in whatif:
        a = {}
        w955 = case(big_mp, "9-5-5", "fast", threads, **extra)
        if "9-1-5" in variants:
            a["ratio_915"] = total_s(w955) / total_s(case(big_mp, "9-1-5", "fast", threads, **extra))
        a["non_cnn"] = (total_s(w955) - w955["cnn"]) / total_s(w955)
        alt[label] = a
    trows = []
    for key, what, must, aim, up in TARGETS:
        cells = []
        for d in [vals] + list(alt.values()):
            if key not in d:
                cells.append("-")
                continue
            v = d[key]
            ok = (lambda x: v >= x) if up else (lambda x: v <= x)
            cells.append(f"{v:.2f} " + ("aim met" if ok(aim) else "must met" if ok(must) else "**FAIL**"))
        trows.append([what, f"{'>=' if up else '<='} {must:g}", f"{'>=' if up else '<='} {aim:g}"] + cells)
    say(f"## Targets (fast path; {big_mp:g} MP = the large end-to-end case{'; --quick sizes' if quick else ''})\n")
    say(md_table(["what", "must", "aim", "file to file (PNG as srcnn writes it)"] + list(alt), trows) + "\n")
    say("The 100 MP 'upscale only' RSS is the process's peak before the encoder ran.\n")
    from engines import int8_engine_name
    from srcnn.quant import MAX_DROP_DB, int8_act_bits, int8_cpu_problem, int8_metrics
    if int8_variants:
        say(f"## int8 against float32 (`--int8`, opt-in; this CPU runs {int8_act_bits()}-bit activations"
            f"{', and 7-bit ones exactly, as CPUs without VNNI do' if int8_act_bits() == 8 else ''})\n")
        qrows = []
        infos = {i.variant: i for i in models if i.scale == scale}
        for v in sorted(int8_variants, key=lambda v: v != "9-5-5"):
            r32 = case(big_mp, v, "fast", threads)
            g32 = cnn.get((v, 3, FastTiles.name))
            for b in int8_of[v]:
                r8 = case(big_mp, v, "fast", threads, int8=b)
                g8 = cnn.get((v, 3, int8_engine_name(b)))
                d = int8_metrics(infos[v], b)
                drops = " / ".join(f"{-d[ds]['drop_db']:+.4f}" if ds in d else "?" for ds in ("Set5", "Set14"))
                ok = all(d.get(ds, {}).get("drop_db", 1) <= MAX_DROP_DB for ds in ("Set5", "Set14"))
                qrows.append([f"{v} x{scale}", f"{b}", f"{g8 / g32:.2f}" if g8 and g32 else "-",
                              f"{total_s(r32):.2f}", f"{total_s(r8):.2f}", f"**{total_s(r32) / total_s(r8):.2f}x**",
                              f"{r32['upscale'] / r8['upscale']:.2f}x", r8.get("fallbacks", 0),
                              drops + (" (admitted)" if ok else " (REFUSED)")])
        say(md_table(["model", "activation bits", "CNN speed-up", f"fp32 file to file s (~{big_mp:g} MP)",
                      "int8 s", "file to file speed-up", "upscale-only speed-up", "tiles rerun in fp32",
                      "Set5 / Set14 dB against fp32 (manifest)"], qrows) + "\n")
        if int8_act_bits() == 8:
            say("7-bit rows on a VNNI CPU: the integers a CPU without VNNI computes, on VNNI kernels; their "
                "speed there is what an AVX2 machine's own run of this benchmark shows.\n")
        else:
            say("This CPU has no VNNI: onnxruntime's AVX2 / AVX-512BW integer kernels with 7-bit activations "
                "(`python bench/layers.py`: node by node).\n")
    elif int8_cpu_problem():
        say(f"## int8: not on this CPU ({int8_cpu_problem()})\n")
    one = cnn.get(("9-5-5", 3, Fast.name))
    if one is not None and "cnn_peak" in vals:
        say(f"CNN throughput: the CNN as srcnn.upscale(fast=True) runs it (tiles in parallel, one thread each); "
            f"the same graph as one {size}x{size} call with {threads} threads per convolution: {one / peak:.2f}.\n")
    say(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
        f"benchmark took {time.time() - t_start:.0f} s")
    raw["e2e"] = {" ".join(map(str, k)): v for k, v in e2e.items()}
    raw["targets"] = {"file to file": vals, **alt}
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

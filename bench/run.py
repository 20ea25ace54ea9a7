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

This file runs the sections in order; what each measures is in its own file: common.py (the
machine and its matmul peak), cnn.py (the CNN alone), e2e.py (file to file, tiles, threads),
psnr.py (every path's Set5 PSNR), ensemble.py (the self-ensemble), targets.py (the issue's
targets and int8), figures.py (--plot).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from cnn import bench_cnn, bench_ort_options  # noqa: E402  (this folder's modules, after the path)
from common import machine_info, md_table, measure_peak, say  # noqa: E402
from e2e import E2E_HEAD, bench_tiles, e2e_row, input_file, run_case, threads_table  # noqa: E402
from psnr import bench_psnr  # noqa: E402
from srcnn.runtime import usable_cores  # noqa: E402


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
        from figures import plot_figures

        for f in plot_figures(Path(args.plot_dir), m, [r for r in stage_rows if r[1] == big_mp], tile_curves, threads):
            say(f"figure: {f}")
        say()

    # threads
    say(f"## Threads: 1 against {threads}\n")
    say(threads_table(case, variants, big_mp, threads) + "\n")

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
    from engines import Fast
    from srcnn.quant import int8_act_bits, int8_cpu_problem
    from targets import int8_table, targets

    table, vals, alt = targets(case, variants, cnn, peak, big, big_mp, threads, whatif)
    say(f"## Targets (fast path; {big_mp:g} MP = the large end-to-end case{'; --quick sizes' if quick else ''})\n")
    say(table + "\n")
    say("The 100 MP 'upscale only' RSS is the process's peak before the encoder ran.\n")
    if int8_variants:
        say(f"## int8 against float32 (`--int8`, opt-in; this CPU runs {int8_act_bits()}-bit activations"
            f"{', and 7-bit ones exactly, as CPUs without VNNI do' if int8_act_bits() == 8 else ''})\n")
        say(int8_table(case, models, int8_of, cnn, big_mp, threads, scale) + "\n")
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
    raw["machine"]["date"] = time.strftime("%Y-%m-%d", time.localtime(t_start))
    raw["targets"] = {"file to file": vals, **alt}
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

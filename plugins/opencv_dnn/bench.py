"""What the ONNX graph's phase interleave costs in ``cv2.dnn``: one table per run.

    python -m srcnn.opencv.bench [--scale 3] [--size 200x260] [--repeat 5] [FILE.onnx ...]

Builds ``srcnn_x{S}.onnx`` from the shipped weights with each interleave (DepthToSpace, the
Reshape/Transpose chain the shipped files use, a stride-S ConvTranspose), plus any extra ONNX
files given (e.g. an older build), and times ``net.forward()`` on one LR Y image (best of
``--repeat`` after a warm-up), and each once more with the CNN replaced by two one-tap 1 -> 1 layers
of the same radius: the cost of the borders and the interleave alone. An interleave the running
OpenCV cannot load is reported so.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = ("depth_to_space", "reshape", "conv_transpose")


def time_file(path: str, y: np.ndarray, repeat: int) -> tuple[float, np.ndarray]:
    import cv2

    net = cv2.dnn.readNetFromONNX(path)
    blob = y[None, None]
    net.setInput(blob)
    out = net.forward().copy()  # warm-up (and the first-run allocations)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        net.setInput(blob)
        net.forward()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv: list[str] | None = None) -> int:
    import cv2

    from srcnn.runtime import weights_dir

    from .build import select_models
    from .graph import onnx_lr_to_hr, read_conv_stack

    ap = argparse.ArgumentParser(prog="python -m srcnn.opencv.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=3)
    ap.add_argument("--size", default="200x260", help="LR height x width")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("files", nargs="*", help="more ONNX files to time on the same input")
    args = ap.parse_args(argv)
    h, w = (int(v) for v in args.size.split("x"))
    info = select_models(weights_dir())[args.scale]
    layers = read_conv_stack(info.onnx_path)
    y = np.random.default_rng(0).random((h, w)).astype(np.float32) * 0.86 + 0.06
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, {os.cpu_count()} CPUs; "
          f"x{args.scale} {info.onnx_path.name}, {h}x{w} -> {args.scale * h}x{args.scale * w}, best of {args.repeat}")
    print(f"{'graph':<28} {'ms':>8}  max |diff| to 'reshape'")
    ref = None
    rows = []
    # the stages around the CNN alone: the same borders, then a cheap 1 -> 1 stack of the same
    # radius (a (2r+1) x 1 and a 1 x (2r+1) tap; only the first counts towards the radius)
    r = sum((w.shape[2] - 1) // 2 for w, _ in layers)
    tall, wide = np.zeros((1, 1, 2 * r + 1, 1), np.float32), np.zeros((1, 1, 1, 2 * r + 1), np.float32)
    tall[0, 0, r, 0] = wide[0, 0, 0, r] = 1
    probe = [(tall, np.zeros(1, np.float32)), (wide, np.zeros(1, np.float32))]
    with tempfile.TemporaryDirectory() as d:
        for v in VARIANTS:
            for tag, stack in (("", layers), (" (no CNN)", probe)):
                p = str(Path(d) / f"{v}{tag.strip(' ()').replace(' ', '_')}.onnx")
                Path(p).write_bytes(onnx_lr_to_hr(stack, args.scale, interleave=v).SerializeToString())
                rows.append((v + tag, p))
        rows += [(Path(f).name, f) for f in args.files]
        results = {}
        for name, p in rows:
            try:
                results[name] = time_file(p, y, args.repeat)
            except cv2.error as e:
                results[name] = (None, str(e).strip().splitlines()[-1][:60])
        ref = results["reshape"][1] if results["reshape"][0] is not None else None
        for name, (t, out) in results.items():
            if t is None:
                print(f"{name:<28} {'fails':>8}  {out}")
                continue
            same = ref is not None and out.shape == ref.shape and "no CNN" not in name
            diff = f"{np.abs(out - ref).max():.1e}" if same else "-"
            print(f"{name:<28} {1000 * t:8.1f}  {diff}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

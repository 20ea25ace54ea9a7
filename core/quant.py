"""int8 for the fast path: calibrating a weight file, and the protocol check that admits it.

The fast path can run a model's middle layer (n1 -> n2, f2 x f2) as an onnxruntime
QLinearConv: input activations as uint8 steps of one scale, weights int8 per output channel,
output uint8 steps of a second scale (``srcnn.fast.qconv_relu``). Layers 1 and 3 and the
residual channel stay float32: quantising layer 1's input (the bicubic Y) too cost 0.03 dB on
Set5 x3 (per-tensor scales; layer 2 alone 0.009). On this project's 2-core AVX-512 VNNI machine 9-5-5 x3 upscales
12 MP in 2.8 s instead of 5.0 s; 9-1-5 (a 1x1, memory-bound middle layer) gets slower
(0.95 -> 1.28 s), so it is not calibrated.

Two activation widths, one calibration. With VNNI (``vpdpbusd``: u8 x s8 products summed in
32 bits) layer 2's input has 8 bits (steps 1/255 of each channel's range). Without VNNI,
onnxruntime's AVX2 / AVX-512BW kernels add pairs of products in saturating 16 bits
(``vpmaddubsw``): 2 x 255 x 127 overflows, so there the input has 7 bits (steps 1/127; 2 x 127
x 127 < 32768, every pair sum exact) and the integers, hence the output, are the same as on a
VNNI CPU given 7 bits (``int8_act_bits`` picks; ``SRCNN_INT8_BITS=7`` forces 7 to measure it
anywhere). Each width is admitted on its own.

``python build.py int8`` calibrates each 9-5-5 weight file: per channel, the largest ReLU
output of layers 1 and 2 over T91 (bicubic x scale, the training images) times 1.25 is the
channel's range; ``srcnn.fast.equalize`` rescales each channel so that its range is [0, 1]
(compensated in the next layer: the same function), so one uint8 step serves every channel as
a per-channel scale would (per-tensor scales cost x2 0.04 dB on Set5). A tile whose quantized
activations leave their range (8 bits: reach 255, clipped; 7 bits: pass 127; e.g. synthetic
hard edges) is recomputed in float32, so clipping never reaches the output. The check then
scores float32 and int8 on Set5 and Set14 with the paper's protocol, as users run it (tiles,
reruns), and writes the manifest's ``int8`` section (8 bits) and ``int8.act7`` (7 bits); the
fast path uses int8 only where its width is ``accepted``: PSNR within 0.02 dB of float32 on
both sets (the issue's bar). The headroom trades precision for fewer reruns (8 bits, Set14 x3,
68 tiles: 1.0 -> 21 reruns, -0.0016 dB; 1.25 -> 10, -0.0027; 1.5 -> 5, -0.0040; x2 at 2.0
fails the bar). The .onnx file and its sha256 are unchanged.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np

from .fast import Int8
from .runtime import ModelError, ModelInfo

__all__ = ["MAX_DROP_DB", "PERCENTILE", "activation_scales", "int8_act_bits", "int8_cpu_problem", "int8_metrics",
           "int8_scales", "require_int8", "calibrate", "check", "Int8Model", "main"]

MAX_DROP_DB = 0.02
PERCENTILE = 100.0
HEADROOM = 1.25
SAMPLES_PER_IMAGE = 20000


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str] | None:
    """This CPU's flags from /proc/cpuinfo (read once), or None where it cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            return frozenset(next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), []))
    except OSError:
        return None


def int8_cpu_problem() -> str | None:
    """None where this CPU runs the int8 path exactly, else why not.

    onnxruntime multiplies uint8 by int8 with VNNI (``vpdpbusd``, 32-bit sums) where the CPU
    has it; without VNNI its AVX2 / AVX-512 kernels add pairs of products in 16 bits
    (``vpmaddubsw``), which saturate for 8-bit activations and full-range weights
    (2 x 255 x 127 > 32767), so there the int8 path quantizes layer 2's input to 7 bits
    (2 x 127 x 128 < 32768: exact; ``int8_act_bits``). Needs x86-64 with AVX2.
    ``SRCNN_INT8_CPU=ok`` overrides the check (e.g. a CPU this check cannot read)."""
    import os
    import platform

    if os.environ.get("SRCNN_INT8_CPU") == "ok":
        return None
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"int8 needs an x86-64 CPU with AVX2 (this is {platform.machine()})"
    flags = _cpu_flags()
    if flags is None:
        return "int8 needs a CPU with AVX2, and this system does not say (no /proc/cpuinfo)"
    if "avx2" not in flags:
        return "int8 needs a CPU with AVX2; this one has none"
    return None


def int8_act_bits() -> int:
    """The width of layer 2's int8 input on this CPU: 8 with VNNI (exact 32-bit sums), else 7
    (what AVX2's 16-bit pair sums add exactly). ``SRCNN_INT8_BITS=7`` asks for 7 anywhere
    (to measure the AVX2 variant on a VNNI machine: the same integers, exactly)."""
    import os

    if os.environ.get("SRCNN_INT8_BITS") == "7":
        return 7
    if os.environ.get("SRCNN_INT8_CPU") == "ok":
        return 8
    flags = _cpu_flags() or set()
    return 8 if {"avx512_vnni", "avx_vnni"} & flags else 7


def _section(info: ModelInfo, act_bits: int) -> dict | None:
    """The manifest's record of the check at ``act_bits``: ``int8`` (8 bits) or ``int8.act7``."""
    q = info.raw.get("int8")
    if not isinstance(q, dict):
        return None
    q = q if act_bits == 8 else q.get(f"act{act_bits}")
    return q if isinstance(q, dict) else None


def int8_scales(info: ModelInfo, act_bits: int | None = None) -> Int8 | None:
    """The accepted int8 set-up (per-channel ranges of layer 1's and layer 2's ReLU outputs)
    of a weight file at ``act_bits`` (None: this CPU's, ``int8_act_bits``), or None."""
    bits = int8_act_bits() if act_bits is None else act_bits
    q, sec = info.raw.get("int8"), _section(info, bits)
    if sec is None or not sec.get("accepted"):
        return None
    try:
        r = (np.asarray(q["layer1_range"], np.float64), np.asarray(q["layer2_range"], np.float64))
    except (KeyError, TypeError, ValueError):
        return None
    ok = all(a.ndim == 1 and a.size and np.isfinite(a).all() and (a >= 0).all() for a in r)
    return Int8(*r, act_bits=bits) if ok else None


def int8_metrics(info: ModelInfo, act_bits: int | None = None) -> dict:
    """The check's Set5 / Set14 numbers at ``act_bits`` (None: this CPU's), {} if none."""
    sec = _section(info, int8_act_bits() if act_bits is None else act_bits)
    m = sec.get("metrics") if sec else None
    return m if isinstance(m, dict) else {}


def require_int8(info: ModelInfo) -> Int8:
    """``int8_scales(info)`` for this CPU, or a ``ModelError`` saying why int8 cannot run."""
    problem = int8_cpu_problem()
    if problem:
        raise ModelError(problem)
    bits = int8_act_bits()
    scales = int8_scales(info, bits)
    if scales is None:
        if bits == 7 and int8_scales(info, 8) is not None:
            raise ModelError(f"{info.name}: int8 with 7-bit activations (this CPU has no VNNI) is not within "
                             f"{MAX_DROP_DB} dB of float32 for this model")
        raise ModelError(f"{info.name} has no int8 calibration (the 9-5-5 models have one: "
                         f"`python build.py int8`; 9-1-5 would only get slower)")
    return scales


def int8_pays(layers) -> bool:
    """int8 is built for a stack of three whose middle layer is wider than 1x1."""
    return len(layers) == 3 and layers[1][0].shape[2] > 1


def activation_scales(layers, images, percentile: float = PERCENTILE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ranges (``percentile`` of each channel) of the ReLU outputs of layers 1 and
    2 (the pass-through channel split off) over ``images`` (float32 bicubic Y arrays)."""
    import onnxruntime as ort

    from .fast import split_carry
    from .onnxmini import Graph

    core, _ = split_carry(layers)
    (w1, b1), (w2, b2) = core[0], core[1]
    g = Graph("srcnn_activations")
    x = g.input("input", np.float32, [1, 1, "H", "W"])
    a1 = g.add("Relu", [g.add("Conv", [x, g.const(w1), g.const(b1)], kernel_shape=list(w1.shape[2:]))])
    a2 = g.add("Relu", [g.add("Conv", [a1, g.const(w2), g.const(b2)], kernel_shape=list(w2.shape[2:]))])
    g.add("Identity", [a1], out="a1")
    g.add("Identity", [a2], out="a2")
    g.output("a1", np.float32, [1, w1.shape[0], "h1", "w1"])
    g.output("a2", np.float32, [1, w2.shape[0], "h2", "w2"])
    sess = ort.InferenceSession(g.serialize(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    s1, s2 = [], []
    for y in images:
        o1, o2 = sess.run(None, {"input": np.ascontiguousarray(y, np.float32)[None, None]})
        for o, acc in ((o1, s1), (o2, s2)):
            flat = o.reshape(o.shape[1], -1)
            cols = rng.choice(flat.shape[1], min(SAMPLES_PER_IMAGE, flat.shape[1]), replace=False)
            acc.append(flat[:, cols])
            acc.append(flat.max(axis=1, keepdims=True))
    if not s1:
        raise ValueError("no calibration images")
    return (np.percentile(np.concatenate(s1, axis=1), percentile, axis=1),
            np.percentile(np.concatenate(s2, axis=1), percentile, axis=1))


def calibrate(info: ModelInfo, folder: Path, percentile: float = PERCENTILE) -> tuple[np.ndarray, np.ndarray]:
    """Activation scales of ``info`` on the images of ``folder`` at the model's scale."""
    from .onnxmini import read_conv_stack
    from .protocol import list_images, load_uint8, prepare

    layers = read_conv_stack(info.onnx_path.read_bytes())
    ys = (prepare(p.stem, load_uint8(p), info.scale).y_bicubic.astype(np.float32) for p in list_images(folder))
    return activation_scales(layers, ys, percentile)


class Int8Model:
    """The int8 CNN as a ``srcnn.runtime.Model``-like object (``info``, ``radius``,
    ``run(y)``) for ``srcnn.evaluate``: the output cut into the fast path's tiles, each run in
    int8 and rerun in float32 where its activations clipped, as ``srcnn.upscale`` does."""

    def __init__(self, info: ModelInfo, threads: int | None = None, int8: Int8 | None = None):
        from .fast import FastModel

        fm = FastModel(info, threads, tile_workers=1, int8=int8 or require_int8(info))
        self.info, self.radius, self.block, self.tile = info, fm.radius, fm.block, fm.tile_cap
        self.engine = "onnxruntime"
        self.q8 = fm.cnn_session(saturation=True)
        self.fp32 = fm.cnn_session(int8=False)
        self.reruns = 0

    def run(self, y: np.ndarray) -> np.ndarray:
        from .border import tiles

        r, b = self.radius, self.block
        h, w = y.shape[0] - 2 * r, y.shape[1] - 2 * r
        out = np.empty((h, w), np.float32)
        for t in tiles(h, w, self.tile):
            x = y[t.r0:t.r1 + 2 * r, t.c0:t.c1 + 2 * r]
            th, tw = t.r1 - t.r0, t.c1 - t.c0
            if th % b or tw % b:
                x = np.pad(x, ((0, (-th) % b), (0, (-tw) % b)), mode="edge")
            feed = {"input": np.ascontiguousarray(x, np.float32)[None, None]}
            o, sat = self.q8.run(None, feed)
            if sat >= 1.0:
                o = self.fp32.run(None, feed)[0]
                self.reruns += 1
            out[t.r0:t.r1, t.c0:t.c1] = o[0, 0, :th, :tw]
        return out


def check(info: ModelInfo, scales: Int8, datasets: Path, threads: int | None = None,
          datasets_only=("Set5", "Set14")) -> dict:
    """Set5 / Set14 PSNR (paper's protocol) of the fast path in float32 and in int8, as users
    run it (``srcnn.fast.upscale_fast`` on the LR Y: tiles, the float32 rerun of a tile whose
    activations clipped), with the share of tiles that were rerun."""
    from .fast import FastModel, upscale_fast
    from .protocol import list_images, load_uint8, prepare, score
    from .resize import imresize

    s = info.scale
    nets = {"fp32": FastModel(info, threads), "int8": FastModel(info, threads, int8=scales)}
    out = {}
    for ds in datasets_only:
        folder = datasets / ds
        if not folder.is_dir():
            raise FileNotFoundError(f"no {folder}")
        psnr = {k: [] for k in nets}
        tiles = []
        for p in list_images(folder):
            smp = prepare(p.stem, load_uint8(p), s)
            lr = imresize(smp.y_hr.astype(np.float64) / 255.0, 1.0 / s).astype(np.float32)
            for k, net in nets.items():
                y = upscale_fast(lr, s, net, progress=(lambda i, n: tiles.append(n) if i == n else None)
                                 if k == "int8" else None)
                psnr[k].append(score(smp, y.astype(np.float64), s, with_ssim=False)["psnr"])
        tiles = sum(tiles)
        fp, q = float(np.mean(psnr["fp32"])), float(np.mean(psnr["int8"]))
        out[ds] = {"psnr_fp32": round(fp, 4), "psnr_int8": round(q, 4), "drop_db": round(fp - q, 4),
                   "tiles_rerun_fp32": f"{nets['int8'].fallbacks}/{tiles}"}
        nets["int8"].fallbacks = 0
    return out


def main(argv=None) -> int:
    import os

    from .onnxmini import read_conv_stack
    from .runtime import available_models, weights_dir

    p = argparse.ArgumentParser(prog="build.py int8", description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=None, help="weights folder (default: the shipped weights/)")
    p.add_argument("--datasets", default=None, help="folder with T91, Set5, Set14 (default: ../shared/datasets)")
    p.add_argument("--only", nargs="*", help="weight names (default: every model int8 pays for)")
    p.add_argument("--percentile", type=float, default=PERCENTILE)
    p.add_argument("--headroom", type=float, default=HEADROOM, help="ranges = headroom x the percentile")
    p.add_argument("--act-bits", default=None,
                   help="activation widths to check: 8,7 (default with VNNI) or 7 (default without; keeps "
                        "the manifest's ranges and 8-bit check where it has them)")
    args = p.parse_args(argv)
    problem = int8_cpu_problem()
    if problem:
        print(f"build.py int8: {problem}", file=sys.stderr)
        return 2
    # ../shared/datasets beside the checkout (build.py runs in it), never beside the installed package
    datasets = Path(args.datasets or os.environ.get("SRCNN_DATASETS") or Path("..", "shared", "datasets"))
    if not (datasets / "T91").is_dir():
        print(f"build.py int8: no {datasets / 'T91'} (pass --datasets)", file=sys.stderr)
        return 2
    for info in available_models(Path(args.weights) if args.weights else weights_dir()):
        if args.only and info.name not in args.only:
            continue
        try:
            info.verify()
        except ModelError as e:
            print(f"{info.name}: {e}", file=sys.stderr)
            return 1
        if info.channels != 1:
            print(f"{info.name}: skipped (the int8 fast path is for Y models)")
            continue
        if not int8_pays(read_conv_stack(info.onnx_path.read_bytes())):
            print(f"{info.name}: skipped (1x1 middle layer: int8 is slower there)")
            continue
        bits = [int(b) for b in (args.act_bits or ("8,7" if int8_act_bits() == 8 else "7")).split(",")]
        if 8 in bits and int8_act_bits() != 8:
            print("build.py int8: 8-bit activations need VNNI to be checked exactly (this CPU: --act-bits 7)",
                  file=sys.stderr)
            return 2
        m = json.loads(info.manifest_path.read_text())
        old = m.get("int8") if isinstance(m.get("int8"), dict) else None
        if 8 in bits or not old or "layer1_range" not in old:
            ranges = tuple(np.round(np.asarray(a, np.float64) * args.headroom, 6)
                           for a in calibrate(info, datasets / "T91", args.percentile))
            old = None
        else:
            ranges = (np.asarray(old["layer1_range"], np.float64), np.asarray(old["layer2_range"], np.float64))
        sec = dict(old or {})
        sec.update({
            "layer": 2,
            "layer1_range": [float(v) for v in ranges[0]],
            "layer2_range": [float(v) for v in ranges[1]],
            "calibration": f"T91 bicubic x{info.scale}: per channel, {args.headroom:g} x the {args.percentile:g}th "
                           "percentile of the ReLU outputs; each channel rescaled to [0, 1] (srcnn.fast.equalize), "
                           "uint8 steps 1/255 (8 bits, CPUs with VNNI) or 1/127 (act7: 7 bits, AVX2 without VNNI)",
            "weights": "int8 symmetric per output channel (srcnn.fast.quantize_weights)",
            "max_drop_db": MAX_DROP_DB, "recipe": "python build.py int8",
        })
        for b in bits:
            metrics = check(info, Int8(*ranges, act_bits=b), datasets)
            accepted = all(v["drop_db"] <= MAX_DROP_DB for v in metrics.values())
            if b == 8:
                sec.update({"metrics": metrics, "accepted": accepted})
            else:
                sec[f"act{b}"] = {"metrics": metrics, "accepted": accepted,
                                  "activations": f"uint8 steps 1/{(1 << b) - 1}, {b} bits"}
            line = "  ".join(f"{ds} {v['psnr_int8']:.4f} ({-v['drop_db']:+.4f} dB)" for ds, v in metrics.items())
            print(f"{info.name}: int8 ({b}-bit activations) {'accepted' if accepted else 'REFUSED'}  {line}",
                  flush=True)
        sec.setdefault("accepted", False)
        m["int8"] = sec
        info.manifest_path.write_text(json.dumps(m, indent=2) + "\n")
    return 0

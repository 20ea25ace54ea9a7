"""The fast path: the whole per-tile pipeline as one onnxruntime graph built from a weight file.

``srcnn.upscale`` runs it by default (``fast=False``: the reference pipeline in
``srcnn.pipeline``). It computes what the reference computes, in another order of
floating-point operations:

- the low-resolution patch goes in (the image's own samples, HWC, a plain slice of it); the
  conversion to YCbCr, the bicubic upsampling, the replicate border of the CNN, the CNN,
  YCbCr -> RGB and the rounding to the output dtype all run inside the graph, so the tile
  is one onnxruntime call;
- the bicubic upsampling is two matrix products per channel, ``A_y @ Y @ A_x^T``: the rows of
  A are MATLAB's imresize weights (``srcnn.resize.contributions``, its symmetric border
  included) for exactly the rows the CNN reads, with row indices clamped to the image, which
  is the CNN's replicate border. One graph serves every integer scale. (It replaced a
  polyphase conv + DepthToSpace + Pad + Slice: 9-1-5 12 MP x3 1.20-1.29 s -> 1.18-1.20 s);
- a residual model exported as a plain SRCNN carries its input through one extra channel per
  layer (``srcnn.training.model.plain_weights``); that channel is computed apart as the
  elementwise function it is, so the two large layers get 64 -> 32 channels, which
  onnxruntime runs in its blocked (NCHWc) direct convolution, about 1.7x faster than 65 -> 33;
- the last layer (n2 -> 1 channel, which onnxruntime runs at a few GFLOP/s) computes a 4x4
  block of outputs per position: 16 output channels, stride 4, an 8x8 kernel holding the 5x5
  one at 16 offsets, then DepthToSpace. More multiply-adds, but on the fast kernel. (Tried:
  a ConvTranspose with the flipped kernel is 1.45x faster itself, but needs the 32-channel
  input out of the NCHWc layout, and that reorder costs what it saves: 9-1-5 62 vs 62 ms
  per 1.4 MP, one thread.)

Differences from the reference are rounding only: at most a few 1e-6 on float output, and
integer output off by one level where a value falls within that of a rounding boundary
(tests/test_fast.py states the tolerances). Non-integer scales, alpha-only differences and
weight files that are not a plain conv stack use the reference path.

``int8`` (``FastModel(int8=Int8(...))``, ``srcnn.quant``): the middle layer as a QLinearConv
on equalized activations, their steps 1/255 (8 bits, for VNNI) or 1/127 (7 bits: the pair sums
of AVX2's ``vpmaddubsw`` cannot saturate); not a rounding-only difference, admitted per weight
file and activation width by the protocol check in ``srcnn.quant``, and rerun in float32 per
tile where it clipped. This module only builds graphs from given ranges: deciding whether and
how int8 runs on a CPU is ``srcnn.quant``'s (which builds on this one, never the reverse).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .border import tiles
from .colour import _MAX, _OFFSET, _T, _T_INV
from .ensemble import transforms
from .onnxmini import Graph, read_conv_stack
from .resize import contributions, output_size, resize_region
from .runtime import ModelInfo, usable_cores

__all__ = ["FastModel", "Int8", "load_fast_model", "upscale_fast", "split_carry",
           "cnn_graph", "equalize", "quantize_weights", "qconv_relu", "DEFAULT_FAST_TILE"]

DEFAULT_FAST_TILE = 512


@dataclass(frozen=True, eq=False)
class Int8:
    """How layer 2 runs in int8: ``r1``, ``r2`` the calibrated per-channel ranges of the ReLU
    outputs of layers 1 and 2 (``srcnn.quant``), ``act_bits`` the width of layer 2's input
    steps: 8 (0..255) or 7 (0..127, for CPUs whose u8 x s8 kernels add product pairs in
    saturating 16 bits)."""
    r1: np.ndarray
    r2: np.ndarray
    act_bits: int = 8

    def __post_init__(self):
        if self.act_bits not in (7, 8):
            raise ValueError(f"act_bits must be 7 or 8, not {self.act_bits}")

    @property
    def x_levels(self) -> int:
        """The step of layer 2's quantized input that its calibrated range maps to: 255 or 127."""
        return (1 << self.act_bits) - 1

    @property
    def x_limit(self) -> int:
        """The step from which that input counts as out of range (the tile reruns in float32):
        255 at 8 bits (clipped), 128 at 7 (beyond the range, where 16-bit pair sums could
        saturate)."""
        return 255 if self.act_bits == 8 else self.x_levels + 1


@dataclass(frozen=True)
class Carry:
    """Output += a3 * relu(a2 * relu(a1 * y + c1) + c2), y the centre input pixel."""
    a1: float
    c1: float
    a2: float
    c2: float
    a3: float

    def steps(self):
        """The carry as (scale, offset, relu after) steps: a graph writer's 1x1 convs."""
        return ((self.a1, self.c1, True), (self.a2, self.c2, True), (self.a3, 0.0, False))


def _delta_at_centre(k: np.ndarray) -> float | None:
    """The weight if ``k`` (f, f) is zero except its centre, else None."""
    c = k.shape[0] // 2
    if np.count_nonzero(k) == 1 and k[c, c] != 0:
        return float(k[c, c])
    return None


def split_carry(layers):
    """Find a pass-through channel (layer 1 channel j -> layer 2 channel k -> output).

    Returns (layers without it, Carry) or (layers, None). Exact: the removed channel reads
    only the centre input pixel, is read only by its successor, and adds to the output
    through a centred delta, so its contribution is the elementwise function ``Carry``.
    """
    if len(layers) != 3 or layers[0][0].shape[1] != 1 or layers[2][0].shape[0] != 1:
        return layers, None
    (w1, b1), (w2, b2), (w3, b3) = layers
    for j in range(w1.shape[0]):
        a1 = _delta_at_centre(w1[j, 0])
        if a1 is None:
            continue
        readers = [k for k in range(w2.shape[0]) if np.any(w2[k, j])]
        if len(readers) != 1:
            continue
        k = readers[0]
        a2 = _delta_at_centre(w2[k, j])
        if a2 is None or np.count_nonzero(w2[k]) != 1:
            continue
        a3 = _delta_at_centre(w3[0, k])
        if a3 is None:
            continue
        keep1 = [i for i in range(w1.shape[0]) if i != j]
        keep2 = [i for i in range(w2.shape[0]) if i != k]
        core = [(w1[keep1], b1[keep1]), (w2[keep2][:, keep1], b2[keep2]), (w3[:, keep2], b3)]
        return core, Carry(a1, float(b1[j]), a2, float(b2[k]), a3)
    return layers, None


def cnn_graph(g: Graph, x: str, layers, block: int = 4, split: bool = True, out_bias: float = 0.0,
              out_scale: float = 1.0, int8: Int8 | None = None) -> str:
    """Nodes for the conv stack on ``x`` (1, C, H + 2r, W + 2r) -> (1, 1, H, W), 'valid'.

    H and W must be multiples of ``block`` (the last layer's output block) when block > 1.
    ``split``: compute a pass-through channel apart (``split_carry``). The output is
    ``out_scale * (CNN + out_bias)``, folded into the last layer's weights and bias.
    """
    core, carry = split_carry(layers) if split else (layers, None)
    if int8 is not None:
        core = equalize(core, int8.r1, int8.r2)
    cur = x
    for i, (w, b) in enumerate(core):
        last = i == len(core) - 1
        f = w.shape[2]
        if last and (out_bias or out_scale != 1.0):
            b = ((np.asarray(b, np.float64) + out_bias) * out_scale).astype(np.float32)
            w = (np.asarray(w, np.float64) * out_scale).astype(np.float32)
        if last and block > 1 and w.shape[0] == 1:
            fb = f + block - 1
            wb = np.zeros((block * block, w.shape[1], fb, fb), np.float32)
            for dy in range(block):
                for dx in range(block):
                    wb[dy * block + dx, :, dy:dy + f, dx:dx + f] = w[0]
            cur = g.add("Conv", [cur, g.const(wb), g.const(np.repeat(b.astype(np.float32), block * block))],
                        kernel_shape=[fb, fb], strides=[block, block])
            cur = g.add("DepthToSpace", [cur], blocksize=block, mode="DCR")
        elif i == 1 and int8 is not None and not last:
            cur = qconv_relu(g, cur, w, b, 1.0 / int8.x_levels, 1.0 / 255, x_limit=int8.x_limit)
            continue
        else:
            cur = g.add("Conv", [cur, g.const(w.astype(np.float32)), g.const(b.astype(np.float32))],
                        kernel_shape=[f, f])
        if not last:
            cur = g.add("Relu", [cur])
    if carry is not None:
        r = sum(w.shape[2] // 2 for w, _ in layers)
        y = g.add("Slice", [x, g.const(np.array([r, r], np.int64)), g.const(np.array([-r, -r], np.int64)),
                            g.const(np.array([2, 3], np.int64))])
        t = y
        for a, c, relu in carry.steps():
            t = g.add("Mul", [t, g.const(np.float32(a if relu else a * out_scale))])
            if relu:
                t = g.add("Relu", [g.add("Add", [t, g.const(np.float32(c))])])
        cur = g.add("Add", [cur, t])
    return cur


def equalize(core, r1, r2):
    """Rescale the ReLU outputs of layers 1 and 2 so that each channel's calibrated range
    (``r1``, ``r2``: per channel, e.g. a high percentile) becomes [0, 1], compensated in the
    next layer's weights: the same function (a ReLU commutes with a positive scale), but one
    uint8 step of 1/255 now fits every channel, as a per-channel activation scale would."""
    (w1, b1), (w2, b2), (w3, b3) = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in core]
    k1 = np.where(np.asarray(r1) > 0, r1, 1.0)
    k2 = np.where(np.asarray(r2) > 0, r2, 1.0)
    w1, b1 = w1 / k1[:, None, None, None], b1 / k1
    w2, b2 = w2 * k1[None, :, None, None] / k2[:, None, None, None], b2 / k2
    w3 = w3 * k2[None, :, None, None]
    return [(w.astype(np.float32), b.astype(np.float32)) for w, b in ((w1, b1), (w2, b2), (w3, b3))]


def quantize_weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8: (int8 weights, float32 scales), w ~ q * scale."""
    m = np.abs(np.asarray(w, np.float64)).reshape(w.shape[0], -1).max(axis=1)
    scale = np.where(m > 0, m / 127.0, 1.0)
    q = np.clip(np.round(np.asarray(w, np.float64) / scale[:, None, None, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def qconv_relu(g: Graph, x: str, w, b, x_scale: float, y_scale: float, x_limit: int = 255) -> str:
    """relu(conv(x, w) + b) in int8: x (>= 0) as uint8 steps of ``x_scale``, w per channel,
    the result as uint8 steps of ``y_scale`` (zero point 0: the ReLU; saturates at 255 steps),
    back to float32. onnxruntime runs QLinearConv on VNNI / AVX2 integer kernels. The two
    uint8 tensors go to ``g.quantized`` with the step from which they count as out of range
    (the tile graph reports whether either was): 255 (clipped) for the output, ``x_limit``
    for the input (255; 128 where its range is 127 steps, 7 bits)."""
    wq, ws = quantize_weights(w)
    bq = np.round(np.asarray(b, np.float64) / (x_scale * ws.astype(np.float64))).astype(np.int32)
    u8 = np.uint8(0)
    xq = g.add("QuantizeLinear", [x, g.const(np.float32(x_scale)), g.const(u8)])
    g.quantized.append((xq, int(x_limit)))
    yq = g.add("QLinearConv", [xq, g.const(np.float32(x_scale)), g.const(u8), g.const(wq), g.const(ws),
                               g.const(np.zeros(len(ws), np.int8)), g.const(np.float32(y_scale)), g.const(u8),
                               g.const(bq)], kernel_shape=[w.shape[2], w.shape[3]])
    g.quantized.append((yq, 255))
    return g.add("DequantizeLinear", [yq, g.const(np.float32(y_scale)), g.const(u8)])


def _flip(g: Graph, x: str, axis: int) -> str:
    return g.add("Slice", [x, g.const(np.array([-1], np.int64)), g.const(np.array([np.iinfo(np.int64).min], np.int64)),
                           g.const(np.array([axis], np.int64)), g.const(np.array([-1], np.int64))])


def ensemble_graph(g: Graph, y: str, layers, block: int, passes: int, **cnn) -> str:
    """The CNN on ``y`` (1, 1, H, W) under the ``passes`` symmetries of ``srcnn.ensemble.SETS``,
    each output turned back and the mean taken: two batched CNN runs at most (the symmetries
    that keep the orientation, then those that transpose it)."""
    syms = transforms(passes)
    outs = []
    for transposed in (False, True):
        group = [s for s in syms if s[0] == transposed]
        if not group:
            continue
        base = g.add("Transpose", [y], perm=[0, 1, 3, 2]) if transposed else y
        xs = []
        for _, fr, fc in group:
            x = base
            if fr:
                x = _flip(g, x, 2)
            if fc:
                x = _flip(g, x, 3)
            xs.append(x)
        batch = g.add("Concat", xs, axis=0) if len(xs) > 1 else xs[0]
        o = cnn_graph(g, batch, layers, block, **cnn)
        for i, (_, fr, fc) in enumerate(group):
            oi = o if len(group) == 1 else g.add("Slice", [o, g.const(np.array([i], np.int64)), g.const(np.array([i + 1], np.int64)),
                                                         g.const(np.array([0], np.int64))])
            if fc:
                oi = _flip(g, oi, 3)
            if fr:
                oi = _flip(g, oi, 2)
            if transposed:
                oi = g.add("Transpose", [oi], perm=[0, 1, 3, 2])
            outs.append(oi)
    total = g.add("Sum", outs)
    return g.add("Mul", [total, g.const(np.float32(1.0 / len(outs)))])


def _tile_graph(layers, channels: int, in_dtype, out_dtype, block: int, int8=None, passes: int = 1) -> bytes:
    """LR patch -> HR tile, see the module docstring.

    Inputs: ``lr`` (h, w, C) in ``in_dtype`` (the image's own samples, C = 3 RGB or 1 grey);
    ``ay`` (Hy, h) and ``axt`` (w, Wy) float32: MATLAB's bicubic as matrices whose rows (and
    columns) are the CNN's input region, the replicate border and the block rounding included
    (row indices clamped to the image), so that ``ay @ Y @ axt`` is the CNN's input; for RGB
    ``cy`` (th, h) and ``cxt`` (w, tw): the same for the tile's own pixels (the chroma).
    ``oe`` int64 (2,): the tile's height and width. Output ``out`` (th, tw, C) in ``out_dtype``
    (uint8/uint16 rounded like the reference, or float32). Node names carry their stage
    ('colour', 'bicubic', 'cnn') for profiling.

    Colour: the reference computes RGB = T_inv (YCbCr - offset), i.e. RGB = t (Y - 16/255) +
    K (Cb, Cr) with t the first column of T_inv and K the rest (offsets taken off). Both
    T and K are linear and so is the bicubic: K (Cb, Cr) is computed from the LR RGB by one
    3x3 matrix (K T[1:]) and upsampled as three channels, the CNN's last layer takes the 16/255
    off, and the output is one multiply-add and the rounding (QuantizeLinear: saturating,
    half to even, where the reference rounds half up: a level apart only at exact halves).
    The scale to the output range (255 or 65535) is folded into those matrices.
    """
    g = Graph("srcnn_fast_tile")
    in_dt, dt = np.dtype(in_dtype), np.dtype(out_dtype)
    lr = g.input("lr", in_dt, ["h", "w", channels])
    ay, axt = g.input("ay", np.float32, ["Hy", "h"]), g.input("axt", np.float32, ["w", "Wy"])
    oe = g.input("oe", np.int64, [2])
    off = _OFFSET / 255.0
    unit = 1.0 / float(_MAX[in_dt]) if in_dt in _MAX else 1.0
    to_int = float(_MAX[dt]) if dt in _MAX else 1.0
    ax0 = g.const(np.array([0], np.int64))
    g.stage = "colour"
    x = g.add("Cast", [lr], to=1) if in_dt != np.dtype(np.float32) else lr
    if channels == 3:
        cy, cxt = g.input("cy", np.float32, ["th", "h"]), g.input("cxt", np.float32, ["w", "tw"])
        t_inv = _T_INV * 255.0 * to_int            # (Y, Cb, Cr) in [0, 1] units -> output units
        to_ycc = _T / 255.0 * unit                 # input samples -> Y, Cb, Cr in [0, 1], no offsets
        m = np.concatenate([to_ycc[:1], t_inv[:, 1:] @ to_ycc[1:]]).T.astype(np.float32)  # (3, 4)
        yq = g.add("Transpose", [g.add("MatMul", [x, g.const(m)])], perm=[2, 0, 1])  # (4, h, w): Y, K(Cb, Cr)
        y = g.add("Slice", [yq, ax0, g.const(np.array([1], np.int64)), ax0])
        y = g.add("Add", [y, g.const(np.float32(off[0]))])
        q = g.add("Slice", [yq, g.const(np.array([1], np.int64)), g.const(np.array([4], np.int64)), ax0])
        g.stage = "bicubic"
        q = g.add("MatMul", [g.add("MatMul", [cy, q]), cxt])  # (3, th, tw)
    else:
        y = g.add("Transpose", [x], perm=[2, 0, 1])
        if unit != 1.0:
            y = g.add("Mul", [y, g.const(np.float32(unit))])
    g.stage = "bicubic"
    y = g.add("MatMul", [g.add("MatMul", [ay, y]), axt])  # (1, Hy, Wy)
    g.stage = "cnn"
    y = g.add("Unsqueeze", [y, ax0])
    cnn = dict(out_bias=-off[0]) if channels == 3 else dict(out_scale=to_int)
    if passes > 1:
        y = ensemble_graph(g, y, layers, block, passes, int8=int8, **cnn)
    else:
        y = cnn_graph(g, y, layers, block, int8=int8, **cnn)
    y = g.add("Slice", [y, g.const(np.array([0, 0], np.int64)), oe, g.const(np.array([2, 3], np.int64))])
    g.stage = "colour"
    if channels == 3:  # (1, 1, th, tw) * (3, 1, 1) + (3, th, tw)
        y = g.add("Add", [g.add("Mul", [y, g.const(t_inv[:, :1, None].astype(np.float32))]), q])
    if dt in _MAX:
        y = g.add("QuantizeLinear", [y, g.const(np.float32(1.0)), g.const(np.zeros((), dt))])
    y = g.add("Transpose", [y], perm=[0, 2, 3, 1])
    g.add("Squeeze", [y, ax0], out="out")
    g.output("out", dt if dt in _MAX else np.float32, ["th", "tw", channels])
    if g.quantized:
        g.stage = "cnn"
        _saturation_output(g)
    return g.serialize(opset=21)


def _saturation_output(g: Graph) -> None:
    """int8: output ``saturation`` (float32), the largest quantized activation over the step
    at which its tensor counts as out of range: >= 1 = clipped (or, at 7 bits, beyond what
    AVX2's kernels add exactly) somewhere; the caller reruns that tile in float32."""
    peaks = [g.add("Mul", [g.add("Cast", [g.add("ReduceMax", [q], keepdims=0)], to=1), g.const(np.float32(1.0 / limit))])
             for q, limit in g.quantized]
    peak = g.add("Max", peaks) if len(peaks) > 1 else peaks[0]
    g.add("Reshape", [peak, g.const(np.zeros(0, np.int64))], out="saturation")  # a scalar
    g.output("saturation", np.float32, [])


class FastModel:
    """A verified weight file as fast tile graphs (one per channel count and output dtype)."""

    def __init__(self, info: ModelInfo, threads: int | None = None, *, block: int = 4,
                 session_config: dict | None = None, opt_level: str = "all", tile_workers: int | None = None,
                 int8: Int8 | None = None):
        """``threads``: CPU threads (None: all usable cores).
        ``tile_workers``: tiles computed at once, each graph run on one thread (None: one per
        thread). 1: one tile at a time with ``threads`` onnxruntime threads inside each
        convolution. Whole tiles in parallel scale better (no synchronisation inside the small
        per-tile convolutions; 12 MP x3 on 2 cores: 9-1-5 1.03 s against 1.32 s, 9-5-5 equal).
        ``block``, ``session_config`` (onnxruntime session config entries) and ``opt_level``
        ('all', 'extended', 'basic') are for benchmarking."""
        info.verify()
        self.info = info
        self.layers = read_conv_stack(info.onnx_path.read_bytes())
        if self.layers[0][0].shape[1] != 1 or self.layers[-1][0].shape[0] != 1:
            raise ValueError("only Y-channel networks")
        self.radius = sum(w.shape[2] // 2 for w, _ in self.layers)
        if tile_workers is None:
            tile_workers = threads or usable_cores()
        self.tile_workers = max(1, int(tile_workers))
        self.cnn_threads = threads  # the conv stack alone (cnn_session), for benchmarks
        self.threads = 1 if self.tile_workers > 1 else threads
        # Tile side cap. A network whose middle layer is 1x1 (9-1-5) is bound by memory traffic:
        # small tiles keep its 64-channel layer-1 output in cache (12 MP x3, 2 cores: tiles of
        # 192 1.03 s, 512 1.33 s). 9-5-5 is compute-bound and about as fast at 256 as at 512,
        # with half the peak memory, which also spares the PNG writer fresh pages afterwards
        # (file to file 4.36 s at 256, 4.61 s at 512).
        self.tile_cap = 192 if self.layers[1][0].shape[2] == 1 else 256
        self.block = block
        self.int8 = int8
        self.fallbacks = 0  # int8 tiles recomputed in float32 (an activation beyond its calibrated range)
        self.session_config = dict(session_config or {})
        self.opt_level = opt_level
        self._sessions: dict = {}
        self._lock = threading.Lock()

    def session_options(self, threads: int | None = None):
        import onnxruntime as ort

        so = ort.SessionOptions()
        threads = threads or self.threads
        if threads:
            so.intra_op_num_threads = int(threads)
            so.inter_op_num_threads = 1
        so.graph_optimization_level = {
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC}[self.opt_level]
        for k, v in self.session_config.items():
            so.add_session_config_entry(k, str(v))
        return so

    def session(self, channels: int, in_dtype, out_dtype, int8: bool | None = None, passes: int = 1):
        """The tile graph for ``channels`` (3 or 1), input and output dtype (any integer scale);
        ``int8``: None = as this model is set up, False = float32 (the int8 fallback);
        ``passes``: the self-ensemble (``srcnn.ensemble``), 1 = none."""
        q = self.int8 if int8 is None or int8 else None
        key = (channels, np.dtype(in_dtype).str, np.dtype(out_dtype).str, q is not None, passes)
        with self._lock:
            if key not in self._sessions:
                import onnxruntime as ort

                graph = _tile_graph(self.layers, channels, in_dtype, out_dtype, self.block, q, passes)
                self._sessions[key] = ort.InferenceSession(graph, self.session_options(),
                                                           providers=["CPUExecutionProvider"])
            return self._sessions[key]

    def cnn_session(self, int8: bool | None = None, saturation: bool = False):
        """The conv stack alone, (1, 1, H + 2r, W + 2r) -> (1, 1, H, W), H, W multiples of block.
        ``int8`` as in ``session``; ``saturation``: int8 also outputs the largest quantized
        activation (255 = clipped), like the tile graph."""
        import onnxruntime as ort

        q = self.int8 if int8 is None or int8 else None
        g = Graph("srcnn_fast_cnn")
        x = g.input("input", np.float32, [1, 1, "H", "W"])
        g.add("Identity", [cnn_graph(g, x, self.layers, self.block, int8=q)], out="output")
        g.output("output", np.float32, [1, 1, "Ho", "Wo"])
        if saturation and g.quantized:
            _saturation_output(g)
        return ort.InferenceSession(g.serialize(opset=18), self.session_options(self.cnn_threads),
                                    providers=["CPUExecutionProvider"])


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


def load_fast_model(info: ModelInfo, threads: int | None = None, int8: Int8 | None = None) -> FastModel | None:
    """Cached ``FastModel``; None for a weight file that is not a plain Y conv stack.

    ``int8``: layer 2 in int8 as given (``srcnn.quant.require_int8`` says whether this CPU
    and weight file allow it, and how)."""
    key = (str(info.onnx_path), info.sha256, threads,
           None if int8 is None else (int8.act_bits, np.asarray(int8.r1).tobytes(), np.asarray(int8.r2).tobytes()))
    with _CACHE_LOCK:
        if key not in _CACHE:
            try:
                _CACHE[key] = FastModel(info, threads, int8=int8)
            except ValueError:
                _CACHE[key] = None
        return _CACHE[key]


def _bicubic_rows(w: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> tuple[int, np.ndarray]:
    """MATLAB's bicubic for output ``rows`` as a dense matrix over the LR span they read.

    ``w``, ``idx``: ``srcnn.resize.contributions`` of the axis. Returns (first LR index, A)
    with A (len(rows), span) float32, so that ``A @ lr[first:first + span]`` = those rows.
    """
    wr, ir = w[rows], idx[rows]
    lo = int(ir.min())
    a = np.zeros((len(rows), int(ir.max()) + 1 - lo))
    ar = np.arange(len(rows))
    for j in range(wr.shape[1]):  # one tap at a time: a mirrored border repeats an index in a row
        a[ar, ir[:, j] - lo] += wr[:, j]
    return lo, a.astype(np.float32)


@dataclass(frozen=True)
class _Axis:
    lo: int            # LR span of the patch
    hi: int
    a: np.ndarray      # (t1 - t0 + 2r + block rounding, hi - lo): the CNN's input rows
    c: np.ndarray      # (t1 - t0, hi - lo): the tile's own rows (chroma)


def _axis(t0: int, t1: int, w: np.ndarray, idx: np.ndarray, r: int, block: int) -> _Axis:
    """Rows t0 - r .. t1 + r (+ rounding up to ``block``), clamped to the image: the replicate
    border of the CNN; rows past t1 + r only feed outputs that the graph slices off."""
    n_hr = w.shape[0]
    extra = (-(t1 - t0)) % block
    rows = np.clip(np.arange(t0 - r, t1 + r + extra), 0, n_hr - 1)
    lo, a = _bicubic_rows(w, idx, rows)
    return _Axis(lo, lo + a.shape[1], a, a[r:r + t1 - t0])


def upscale_fast(image: np.ndarray, scale: int, net: FastModel, *, tile: int = DEFAULT_FAST_TILE,
                 progress=None, region: tuple[int, int, int, int] | None = None, passes: int = 1) -> np.ndarray:
    """``srcnn.pipeline.upscale`` for an integer ``scale`` through ``net``'s tile graphs.

    ``image``: (H, W) grey, (H, W, 2) grey+alpha, (H, W, 3) RGB or (H, W, 4) RGBA; uint8,
    uint16 or float in [0, 1]; already validated by the caller. Returns the same layout and
    dtype at (S*H, S*W), or only output rows r0..r1-1, columns c0..c1-1 for ``region``.
    ``passes``: the self-ensemble (``srcnn.ensemble``; 1 = none), four symmetries per batched
    CNN run, so tiles are capped at half the side to keep the activations' memory alike.
    """
    s = int(scale)
    if net.tile_cap:
        tile = min(tile, net.tile_cap if passes == 1 else net.tile_cap // 2)
    h, w = image.shape[:2]
    oh, ow = output_size(h, s), output_size(w, s)
    c = 1 if image.ndim == 2 else image.shape[2]
    colour = 3 if c >= 3 else 1
    dt = np.dtype(image.dtype)
    graph_dt = dt if dt in _MAX else np.dtype(np.float32)
    sess = net.session(colour, graph_dt, graph_dt, passes=passes)
    r, block = net.radius, net.block
    r0, r1, c0, c1 = region or (0, oh, 0, ow)
    out = np.empty((r1 - r0, c1 - c0) + image.shape[2:], dtype=dt)
    alpha = None
    if c in (2, 4):
        alpha = (image[:, :, c - 1].astype(np.float32) / np.float32(_MAX[dt])) if dt in _MAX \
            else image[:, :, c - 1].astype(np.float32)
    all_tiles = [type(t)(t.r0 + r0, t.r1 + r0, t.c0 + c0, t.c1 + c0) for t in tiles(r1 - r0, c1 - c0, tile)]
    wy, iy = contributions(h, oh, float(s), True)
    wx, ix = contributions(w, ow, float(s), True)
    rows = {k: _axis(*k, wy, iy, r, block) for k in {(t.r0, t.r1) for t in all_tiles}}
    cols = {k: _axis(*k, wx, ix, r, block) for k in {(t.c0, t.c1) for t in all_tiles}}
    cols_t = {k: (np.ascontiguousarray(v.a.T), np.ascontiguousarray(v.c.T)) for k, v in cols.items()}

    def work(t):
        ay, ax = rows[(t.r0, t.r1)], cols[(t.c0, t.c1)]
        axt, cxt = cols_t[(t.c0, t.c1)]
        patch = image[ay.lo:ay.hi, ax.lo:ax.hi]
        patch = patch[:, :, None] if image.ndim == 2 else patch[:, :, :colour]
        patch = np.ascontiguousarray(patch, dtype=graph_dt)
        feed = {"lr": patch, "ay": ay.a, "axt": axt, "oe": np.array([t.r1 - t.r0, t.c1 - t.c0], np.int64)}
        if colour == 3:
            feed["cy"], feed["cxt"] = ay.c, cxt
        res = sess.run(None, feed)
        y = res[0]
        if len(res) > 1 and res[1] >= 1.0:  # int8 clipped somewhere in this tile: float32 instead
            y = net.session(colour, graph_dt, graph_dt, int8=False, passes=passes).run(None, feed)[0]
            with net._lock:
                net.fallbacks += 1
        o = out[t.r0 - r0:t.r1 - r0, t.c0 - c0:t.c1 - c0]
        if image.ndim == 2:
            o[...] = y[:, :, 0]
        else:
            o[:, :, :colour] = y
            if alpha is not None:
                a = resize_region(alpha, float(s), np.arange(t.r0, t.r1), np.arange(t.c0, t.c1))
                if dt in _MAX:
                    m = np.float32(_MAX[dt])
                    a = np.clip(np.floor(a * m + np.float32(0.5)), 0, m)
                o[:, :, c - 1] = a.astype(dt)

    if net.tile_workers > 1 and len(all_tiles) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(net.tile_workers) as ex:  # tiles write disjoint parts of ``out``
            for k, _ in enumerate(ex.map(work, all_tiles)):
                if progress:
                    progress(k + 1, len(all_tiles))
    else:
        for k, t in enumerate(all_tiles):
            work(t)
            if progress:
                progress(k + 1, len(all_tiles))
    return out

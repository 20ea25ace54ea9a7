"""Bicubic pre-upsampling folded into layer 1: per-phase filters on the low-resolution image.

Bicubic upsampling by an integer S and SRCNN's first layer are both linear, so layer 1 on the
pre-upsampled Y equals S*S phase filters (T x T taps) applied to the LR image followed by
DepthToSpace: exact, with T*T instead of f1*f1 multiply-adds per HR pixel (T = 9, 7, 7 for
x2, x3, x4 and f1 = 9), no HR Y to build, and a matrix product with 64*S*S outputs per LR pixel.

This module (benchmark code: ``bench/engines.py``'s ``Fold``) gives the folded filters and an
ONNX graph of the folded network. It is measured by ``bench/run.py`` beside ``srcnn.fast``;
the pipeline does not use it, because onnxruntime's
DepthToSpace on 64*S*S channels (with the layout changes around it) costs more than the folded
layer saves (see bench/README.md). Exact in the interior only: within the receptive-field
radius of the image edge the reference network sees replicate-padded HR values, which no filter
on the LR image reproduces.
"""
from __future__ import annotations

import numpy as np

from srcnn.fast import cnn_graph, split_carry
from srcnn.onnxmini import Graph
from srcnn.resize import contributions

__all__ = ["bicubic_phases", "fold_layer1", "fold_graph", "FoldGeometry"]

BICUBIC_PAD = 2  # LR pixels each side that the 4-tap bicubic phases read (offsets -2..+2)


def bicubic_phases(scale: int) -> np.ndarray:
    """float64 (S, 5): HR pixel ``S*k + p`` (0-based) = sum_t w[p, t] * LR[k - 2 + t].

    Read off ``srcnn.resize.contributions`` (MATLAB's table) at an interior position.
    """
    s = int(scale)
    n = 16
    w, idx = contributions(n, s * n, float(s), True)
    k = n // 2
    out = np.zeros((s, 2 * BICUBIC_PAD + 1))
    for p in range(s):
        for wt, i in zip(w[s * k + p], idx[s * k + p]):
            off = int(i) - k
            if wt != 0:
                if abs(off) > BICUBIC_PAD:
                    raise AssertionError(f"bicubic tap at offset {off} for scale {s}")
                out[p, off + BICUBIC_PAD] += wt
    return out


class FoldGeometry:
    """Where the folded network's output lies: ``out[Y]`` is HR pixel ``Y + offset`` of the
    image whose LR pixel 0 is the input's pixel 0 (same for columns)."""

    def __init__(self, lo: int, taps: int, scale: int, r_rest: int):
        self.lo, self.taps, self.scale, self.r_rest = lo, taps, scale, r_rest
        self.offset = -scale * lo + r_rest

    def out_len(self, in_len: int) -> int:
        return self.scale * (in_len - self.taps + 1) - 2 * self.r_rest


def fold_layer1(w1: np.ndarray, b1: np.ndarray, scale: int):
    """(C, 1, f, f) layer 1 -> (F (S*S*C, 1, T, T) in DepthToSpace CRD order, bias, lo, T).

    Folded output channel c*S*S + p*S + q at LR position i (valid conv) is layer 1's output
    channel c at HR pixel (S*(i - lo) + p, ...) of the bicubic image, for LR offsets
    lo .. lo + T - 1. Computed in float64.
    """
    s = int(scale)
    k1 = bicubic_phases(s)
    c, _, f, _ = w1.shape
    r1 = f // 2
    terms = [(p, dy, (p + dy) // s + a - BICUBIC_PAD, k1[(p + dy) % s, a])
             for p in range(s) for dy in range(-r1, r1 + 1) for a in range(k1.shape[1])
             if k1[(p + dy) % s, a] != 0]
    lo = min(t[2] for t in terms)
    taps = max(t[2] for t in terms) - lo + 1
    a = np.zeros((s, 2 * r1 + 1, taps))
    for p, dy, m, wt in terms:
        a[p, dy + r1, m - lo] += wt
    f_ = np.einsum("cyx,pym,qxn->cpqmn", w1[:, 0].astype(np.float64), a, a)
    return f_.reshape(c * s * s, 1, taps, taps), np.repeat(np.asarray(b1, np.float64), s * s), lo, taps


def fold_graph(layers, scale: int, block: int = 4) -> tuple[bytes, FoldGeometry]:
    """ONNX graph: LR Y (1, 1, h, w) -> HR Y through the folded network (see FoldGeometry).

    The output length ``S*(h - T + 1) - 2*r_rest`` (rows and columns) must be a multiple of
    ``block``. A pass-through (residual) channel is split off as in ``srcnn.fast``.
    """
    s = int(scale)
    core, carry = split_carry(layers)
    (w1, b1), rest = core[0], core[1:]
    f_, b_, lo, taps = fold_layer1(w1, b1, s)
    r_rest = sum(w.shape[2] // 2 for w, _ in rest)
    geo = FoldGeometry(lo, taps, s, r_rest)
    g = Graph("srcnn_fold")
    x = g.input("input", np.float32, [1, 1, "h", "w"])
    h1 = g.add("Conv", [x, g.const(f_.astype(np.float32)), g.const(b_.astype(np.float32))], kernel_shape=[taps, taps])
    h1 = g.add("Relu", [h1])
    h1 = g.add("DepthToSpace", [h1], blocksize=s, mode="CRD")
    y = _rest(g, h1, rest, block)
    if carry is not None:
        # The carry channel's layer 1 is a centred delta: folded, the bicubic phases themselves.
        delta = np.zeros((1, 1) + w1.shape[2:])
        delta[0, 0, w1.shape[2] // 2, w1.shape[3] // 2] = carry.a1
        fc, _, lo_c, taps_c = fold_layer1(delta, [carry.c1], s)
        fc_full = np.zeros((s * s, 1, taps, taps))
        fc_full[:, :, lo_c - lo:lo_c - lo + taps_c, lo_c - lo:lo_c - lo + taps_c] = fc
        t = g.add("Conv", [x, g.const(fc_full.astype(np.float32)), g.const(np.full(s * s, carry.c1, np.float32))],
                  kernel_shape=[taps, taps])
        t = g.add("Relu", [t])
        if s > 1:
            t = g.add("DepthToSpace", [t], blocksize=s, mode="CRD")
        t = g.add("Slice", [t, g.const(np.array([r_rest, r_rest], np.int64)),
                            g.const(np.array([-r_rest, -r_rest], np.int64)), g.const(np.array([2, 3], np.int64))])
        f32 = np.float32
        t = g.add("Relu", [g.add("Add", [g.add("Mul", [t, g.const(f32(carry.a2))]), g.const(f32(carry.c2))])])
        y = g.add("Add", [y, g.add("Mul", [t, g.const(f32(carry.a3))])])
    g.add("Identity", [y], out="output")
    g.output("output", np.float32, [1, 1, "H", "W"])
    return g.serialize(), geo


def _rest(g: Graph, x: str, rest, block: int) -> str:
    """Layers 2.. of the (carry-free) stack: reuse ``cnn_graph`` on a stack without layer 1."""
    return cnn_graph(g, x, rest, block, split=False)

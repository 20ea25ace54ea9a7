"""The LR-Y -> HR-Y network as a TensorFlow GraphDef (.pb), written without TensorFlow.

``cv2.dnn_superres.DnnSuperResImpl.readModel`` reads only GraphDefs, and for the "fsrcnn",
"espcn" and "lapsrn" algorithms feeds the graph OpenCV's *full-range* YCrCb Y in [0, 1] and
expects full-range Y back. Our weights were trained on MATLAB's studio-range Y, so the graph
converts on the way in (y_studio = (16 + 219 y) / 255, exact for RGB in [0, 1] since MATLAB's
coefficients are 219/255 times 0.299 / 0.587 / 0.114) and back on the way out.

Stages (NHWC, as TensorFlow graphs are): 1x1 Conv2D + BiasAdd (the range conversion; OpenCV's
importer also needs a Conv2D before any StridedSlice/ConcatV2 on the placeholder) ->
symmetric border -> 5x5 bicubic-phase Conv2D -> DepthToSpace (dnn_superres registers its own
layer for it, which takes any size on every version) -> replicate border -> the conv stack ->
1x1 Conv2D + BiasAdd back to full range. The borders: StridedSlice (from the front only) +
ConcatV2 at the near end; MirrorPad (REFLECT), Pad, a one-tap Conv2D shift and a 0/1 mask at
the far end, which OpenCV 4.5.4 and later all import.

The protobuf wire format is written by hand (a few field numbers from TensorFlow's
graph.proto, node_def.proto, attr_value.proto, tensor.proto and tensor_shape.proto), with map
entries in sorted order, so the same weights always give the same bytes.
"""
from __future__ import annotations

import struct

import numpy as np

from srcnn import onnxmini as _ow

from srcnn.fast import split_carry

from .graph import BICUBIC_PAD, bicubic_conv_weight, diag, stack_radius

__all__ = ["graphdef_lr_to_hr", "graphdef_rgb_lr_to_hr", "y_range_convs", "edsr_convs", "FULL_TO_STUDIO",
           "STUDIO_TO_FULL", "EDSR_MEAN_BGR"]

DT_FLOAT, DT_INT32 = 1, 3
# y_studio = a * y_full + c and its inverse, for Y in [0, 1]
FULL_TO_STUDIO = (219.0 / 255.0, 16.0 / 255.0)
STUDIO_TO_FULL = (255.0 / 219.0, -16.0 / 219.0)
# What dnn_superres's "edsr" path subtracts from the 0-255 BGR input and adds to the output
# (DIV2K's mean; OpenCV's source constants, confirmed to 1e-5 by probe graphs).
EDSR_MEAN_BGR = (103.1545782, 111.561547, 114.35629928)


# --- protobuf wire format -------------------------------------------------------------------
# varints and keys are the same wire format as ONNX's: the core's writer is reused.
_varint, _key, _int = _ow._varint, _ow._key, _ow._int


def _bytes(field: int, b: bytes | str) -> bytes:
    if isinstance(b, str):
        b = b.encode()
    return _key(field, 2) + _varint(len(b)) + b


def _float(field: int, v: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", v)


def _shape(dims) -> bytes:  # TensorShapeProto: dim = 2 { size = 1 }
    return b"".join(_bytes(2, _int(1, d)) for d in dims)


def _tensor(arr: np.ndarray) -> bytes:
    """TensorProto: dtype 1, tensor_shape 2, tensor_content 4, int_val 7 (scalars: OpenCV wants it)."""
    if arr.dtype == np.float32:
        dt = DT_FLOAT
    elif arr.dtype == np.int32:
        dt = DT_INT32
    else:
        raise TypeError(arr.dtype)
    out = _int(1, dt) + _bytes(2, _shape(arr.shape))
    if arr.ndim == 0 and dt == DT_INT32:
        return out + _bytes(7, _varint(int(arr)))  # packed repeated int32
    return out + _bytes(4, np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes())


# AttrValue: list 1 (ListValue: s 2, i 3), s 2, i 3, f 4, b 5, type 6, shape 7, tensor 8
def _attr(v) -> bytes:
    kind, val = v
    if kind == "s":
        return _bytes(2, val)
    if kind == "i":
        return _int(3, val)
    if kind == "type":
        return _int(6, val)
    if kind == "shape":
        return _bytes(7, _shape(val))
    if kind == "tensor":
        return _bytes(8, _tensor(val))
    if kind == "ilist":
        return _bytes(1, _bytes(3, b"".join(_varint(i) for i in val)))
    raise ValueError(kind)


def _node(name: str, op: str, inputs=(), **attrs) -> bytes:
    """NodeDef: name 1, op 2, input 3, attr 5 (map<string, AttrValue> entries: key 1, value 2)."""
    out = _bytes(1, name) + _bytes(2, op)
    for i in inputs:
        out += _bytes(3, i)
    for k in sorted(attrs):
        out += _bytes(5, _bytes(1, k) + _bytes(2, _attr(attrs[k])))
    return _bytes(1, out)  # GraphDef.node = 1


# --- the graph ------------------------------------------------------------------------------
class _Builder:
    """Nodes of a graph whose image tensors have ``channels`` channels (1: Y, 3: BGR/RGB).

    The border helpers work on every channel at once: their fixed convolutions are diagonal
    (channel c -> channel c), which for one channel are the plain 1 -> 1 kernels.
    """

    def __init__(self, channels: int = 1):
        self.parts: list[bytes] = []
        self.consts: dict[bytes, str] = {}
        self.c = int(channels)

    def diag(self, k: np.ndarray) -> np.ndarray:
        """(kh, kw) kernel -> (C, C, kh, kw) weights applying it to each channel on its own."""
        return diag(k, self.c)

    def const(self, name: str, arr: np.ndarray) -> str:
        key = arr.dtype.str.encode() + str(arr.shape).encode() + arr.tobytes()
        if key in self.consts:
            return self.consts[key]
        dt = DT_FLOAT if arr.dtype == np.float32 else DT_INT32
        self.parts.append(_node(name, "Const", dtype=("type", dt), value=("tensor", arr)))
        self.consts[key] = name
        return name

    def conv(self, name: str, x: str, w: np.ndarray, b: np.ndarray | None, padding: str = "VALID") -> str:
        """w (out, in, kh, kw) float correlation weights, as ONNX/PyTorch store them."""
        hwio = np.ascontiguousarray(np.asarray(w, np.float32).transpose(2, 3, 1, 0))
        wn = self.const(f"{name}/weights", hwio)
        self.parts.append(_node(name, "Conv2D", [x, wn], T=("type", DT_FLOAT), data_format=("s", "NHWC"),
                                dilations=("ilist", [1, 1, 1, 1]), padding=("s", padding),
                                strides=("ilist", [1, 1, 1, 1])))
        if b is None:
            return name
        bn = self.const(f"{name}/bias", np.asarray(b, np.float32).reshape(-1))
        self.parts.append(_node(f"{name}/add", "BiasAdd", [name, bn], T=("type", DT_FLOAT),
                                data_format=("s", "NHWC")))
        return f"{name}/add"

    def slice(self, name: str, x: str, axis: int, start: int, stop: int | None) -> str:
        """x[..., start:stop, ...] on NHWC ``axis``; the other axes whole (begin/end masks)."""
        begin, end = [0, 0, 0, 0], [0, 0, 0, 0]
        begin[axis] = start
        end[axis] = stop if stop is not None else 0
        others = sum(1 << a for a in range(4) if a != axis)
        bn = self.const(f"{name}/begin", np.array(begin, np.int32))
        en = self.const(f"{name}/end", np.array(end, np.int32))
        sn = self.const("strides_1111", np.array([1, 1, 1, 1], np.int32))
        self.parts.append(_node(name, "StridedSlice", [x, bn, en, sn], Index=("type", DT_INT32),
                                T=("type", DT_FLOAT), begin_mask=("i", others),
                                ellipsis_mask=("i", 0),
                                end_mask=("i", others | ((1 << axis) if stop is None else 0)),
                                new_axis_mask=("i", 0), shrink_axis_mask=("i", 0)))
        return name

    def concat(self, name: str, xs: list[str], axis: int) -> str:
        an = self.const(f"axis_{axis}", np.array(axis, np.int32))
        self.parts.append(_node(name, "ConcatV2", list(xs) + [an], N=("i", len(xs)),
                                T=("type", DT_FLOAT), Tidx=("type", DT_INT32)))
        return name

    def pad(self, name: str, x: str, axis: int, before: int, after: int, mirror: bool = False) -> str:
        """Zero (or, ``mirror``, reflect) Pad of NHWC ``axis``."""
        p = np.zeros((4, 2), np.int32)
        p[axis] = before, after
        pn = self.const(f"{name}/paddings", p)
        self.parts.append(_node(name, "MirrorPad" if mirror else "Pad", [x, pn], T=("type", DT_FLOAT),
                                Tpaddings=("type", DT_INT32), **({"mode": ("s", "REFLECT")} if mirror else {})))
        return name

    def binary(self, name: str, op: str, a: str, b: str) -> str:
        self.parts.append(_node(name, op, [a, b], T=("type", DT_FLOAT)))
        return name

    def front(self, x: str, axis: int, idx: list[int], tag: str) -> str:
        """x[idx[0]], x[idx[1]], ..., x concatenated along ``axis`` (slices from the front only)."""
        parts = {i: self.slice(f"{tag}/x{i}", x, axis, i, i + 1) for i in sorted(set(idx))}
        return self.concat(f"{tag}/front", [parts[i] for i in idx] + [x], axis)

    def shifted(self, x: str, axis: int, tag: str) -> str:
        """y[i] = x[i - 1] along ``axis`` (x[-1] = 0): a one-tap Conv2D, padding SAME."""
        k = np.zeros((3, 1) if axis == 1 else (1, 3), np.float32)
        k[0, 0] = 1
        return self.conv(tag, x, self.diag(k), None, padding="SAME")

    def tail_mask(self, x: str, axis: int, n: int, tag: str) -> str:
        """0 over x, 1 over the n pixels a tail Pad adds (Pad writes zeros only: 1 - Pad(1))."""
        one, ones_c = self.diag(np.ones((1, 1))), np.ones(self.c, np.float32)
        ones = self.conv(f"{tag}/ones", x, 0 * one, ones_c)
        return self.conv(f"{tag}/mask", self.pad(f"{tag}/mask_pad", ones, axis, 0, n), -one, ones_c)

    # As in graph.py: OpenCV 4.5's StridedSlice takes no negative begin, and its TF importer has
    # no edge Pad (MirrorPad is always REFLECT), so the far border is a reflect Pad, shifted by
    # one pixel where the border needs x(n-1), chosen by a 0/1 mask.
    def sym_pad(self, x: str, axis: int, tag: str) -> str:
        # MATLAB symmetric border of 2: x1 x0 | x0 .. x(n-1) | x(n-1) x(n-2)
        f = self.front(x, axis, [1, 0], tag)
        refl = self.pad(f"{tag}/refl", f, axis, 0, 2, mirror=True)  # .. x(n-1) | x(n-2) x(n-3)
        diff = self.binary(f"{tag}/diff", "Sub", self.shifted(refl, axis, f"{tag}/shift"), refl)
        fix = self.binary(f"{tag}/fix", "Mul", self.tail_mask(f, axis, 2, tag), diff)
        return self.binary(f"{tag}/pad", "Add", refl, fix)

    def rep_pad(self, x: str, axis: int, n: int, tag: str) -> str:
        # replicate border of n: x0 (n times) | x0 .. x(n-1) | x(n-1) (n times)
        f = self.front(x, axis, [0] * n, tag)
        shifted = self.shifted(self.pad(f"{tag}/refl", f, axis, 0, 1, mirror=True), axis, f"{tag}/shift")
        last = self.binary(f"{tag}/last", "Mul", self.tail_mask(f, axis, 1, tag), shifted)  # x(n-1) past the end
        box = self.diag(np.ones((n, 1) if axis == 1 else (1, n)))
        spread = self.conv(f"{tag}/spread", self.pad(f"{tag}/box_in", last, axis, n - 1, n - 1), box, None)
        return self.binary(f"{tag}/pad", "Add", self.pad(f"{tag}/zeros", f, axis, 0, n), spread)


def _lr_to_hr(layers, scale: int, channels: int, pre, post) -> bytes:
    """The shared graph: ``pre`` and ``post`` are the (name, w (C, C, 1, 1), b (C,)) 1x1 convs
    that convert from what ``dnn_superres`` feeds to what the weights expect, and back."""
    s, nc = int(scale), int(channels)
    if layers[0][0].shape[1] != nc or layers[-1][0].shape[0] != nc:
        raise ValueError(f"the conv stack is not {nc} -> {nc} channels")
    g = _Builder(nc)
    g.parts.append(_node("input", "Placeholder", dtype=("type", DT_FLOAT), shape=("shape", [-1, -1, -1, nc])))
    name, w, b = pre
    cur = g.conv(name, "input", w, b)
    cur = g.sym_pad(cur, 1, "sym_h")
    cur = g.sym_pad(cur, 2, "sym_w")
    assert BICUBIC_PAD == 2
    cur = g.conv("bicubic_phases", cur, bicubic_conv_weight(s, nc).astype(np.float32), None)
    # OpenCV's importer reads 'block_size'; dnn_superres's own DepthToSpace layer reads 'blocksize'.
    # Channel (py*S + px)*C + c -> pixel (S*i + py, S*j + px), channel c (TensorFlow's order,
    # which dnn_superres's layer follows for C = 3 too: tested on OpenCV 4.5.5 and 5.0).
    g.parts.append(_node("bicubic", "DepthToSpace", [cur], T=("type", DT_FLOAT), block_size=("i", s),
                         blocksize=("i", s), data_format=("s", "NHWC")))
    cur = "bicubic"
    r = stack_radius(layers)
    if r:
        cur = g.rep_pad(cur, 1, r, "rep_h")
        cur = g.rep_pad(cur, 2, r, "rep_w")
    core, carry = split_carry(layers)  # the pass-through channel apart, as in graph.py (Y only)
    for i, (w, b) in enumerate(core, 1):
        cur = g.conv(f"conv{i}", cur, w, b)
        if i < len(core):
            g.parts.append(_node(f"relu{i}", "Relu", [cur], T=("type", DT_FLOAT)))
            cur = f"relu{i}"
    if carry is not None:
        t = "bicubic"
        for j, (a, c, relu) in enumerate(carry.steps(), 1):
            t = g.conv(f"carry{j}", t, np.full((1, 1, 1, 1), a, np.float32), np.array([c], np.float32))
            if relu:
                g.parts.append(_node(f"carry_relu{j}", "Relu", [t], T=("type", DT_FLOAT)))
                t = f"carry_relu{j}"
        g.parts.append(_node("cnn", "Add", [cur, t], T=("type", DT_FLOAT)))
        cur = "cnn"
    name, w, b = post
    g.conv(name, cur, w, b)
    versions = _bytes(4, _int(1, 27))  # GraphDef.versions = 4 { producer = 1 }
    return b"".join(g.parts) + versions


def y_range_convs():
    """((w, b), (w, b)): the 1x1 convs full-range Y -> studio range and back (dnn_superres's Y
    paths feed and expect full range; the weights are studio range). Shared with ``superres.py``."""
    def lin(a, c):
        return np.full((1, 1, 1, 1), a, np.float32), np.array([c], np.float32)

    return lin(*FULL_TO_STUDIO), lin(*STUDIO_TO_FULL)


def edsr_convs():
    """((w, b), (w, b)): the 1x1 convs from what "edsr" feeds (B, G, R in 0-255 less
    ``EDSR_MEAN_BGR``) to R, G, B in [0, 1], and back. Shared with ``superres.py``."""
    m = np.asarray(EDSR_MEAN_BGR, np.float64)
    flip = np.eye(3)[::-1]  # channel c <- channel 2 - c
    return (((flip / 255.0)[:, :, None, None].astype(np.float32), (m[::-1] / 255.0).astype(np.float32)),
            ((flip * 255.0)[:, :, None, None].astype(np.float32), (-m).astype(np.float32)))


def graphdef_lr_to_hr(layers, scale: int) -> bytes:
    """Serialized GraphDef: full-range LR Y (N, h, w, 1) in [0, 1] -> full-range HR Y (N, Sh, Sw, 1).

    For ``setModel("fsrcnn" | "espcn" | "lapsrn", S)``. ``layers`` is the weight file's conv
    stack [(w (out, in, k, k), b (out,))] (studio range).
    """
    pre, post = y_range_convs()
    return _lr_to_hr(layers, scale, 1, ("to_studio", *pre), ("to_full", *post))


def graphdef_rgb_lr_to_hr(layers, scale: int) -> bytes:
    """Serialized GraphDef for ``setModel("edsr", S)``: what edsr feeds -> what it expects back.

    ``upsample`` with "edsr" (OpenCV 4.5.5 and 5.0, measured with probe graphs) converts the
    8-bit BGR image to float (0-255), subtracts ``EDSR_MEAN_BGR`` per channel and feeds
    (1, 3, h, w) in B, G, R order; the output is taken as (1, 3, H, W) of any size, the means
    are added back and it is rounded and saturated to uint8. ``layers``: an RGB conv stack
    (3 -> 3, R, G, B in [0, 1]), as the 9-5-5-rgb weight file has. The first 1x1 conv gives
    rgb = (bgr_fed + mean)[::-1] / 255, the last bgr = 255 rgb[::-1] - mean.
    """
    pre, post = edsr_convs()
    return _lr_to_hr(layers, scale, 3, ("from_edsr", *pre), ("to_edsr", *post))

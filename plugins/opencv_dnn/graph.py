"""The self-contained LR-Y -> HR-Y network, as numpy weights and as an ONNX graph.

One network, two file formats (ONNX here, TensorFlow GraphDef in ``tfgraph.py``), same stages:

1. MATLAB's symmetric (half-sample) border of 2 LR pixels, by Slice + Concat;
2. MATLAB ``imresize(y, S, 'bicubic')`` as one fixed 5x5 Conv with S*S outputs (one per
   output phase) and DepthToSpace: for an integer upscale, MATLAB's bicubic is a polyphase
   filter with 4 taps per phase (weights from the core's own ``contributions``);
3. replicate border of ``radius`` HR pixels (Slice + Concat) and the weight file's 'valid' conv stack, exactly
   what the core pipeline does on the pre-upsampled Y. A residual model's pass-through channel
   (``srcnn.fast.split_carry``) is computed apart, from the bicubic image, by three 1x1 convs
   and added to the output: the two large layers then have 64 -> 32 channels, which OpenCV's
   dnn runs 1.3x faster than 65 -> 33 (512x512 9-5-5, 2 threads: 344 against 450 ms).

Shapes: float32 (N, 1, h, w) studio-range Y in [0, 1] -> (N, 1, S*h, S*w); h, w >= 2.
Build-time only (needs ``onnx``); nothing here runs on the inference path.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from srcnn.fast import split_carry
from srcnn.resize import contributions

__all__ = ["BICUBIC_PAD", "bicubic_phases", "read_conv_stack", "stack_radius", "onnx_lr_to_hr"]

OPSET = 13
BICUBIC_PAD = 2  # LR pixels of symmetric border the 4-tap phases need (offsets -2..+2)
_INT64_MAX = np.iinfo(np.int64).max


def bicubic_phases(scale: int) -> np.ndarray:
    """1-D polyphase weights of MATLAB's bicubic upscale by an integer ``scale``.

    Returns float64 (scale, 5): row p gives output pixel ``scale*k + p`` (0-based) as
    ``sum_t w[p, t] * x[k - 2 + t]``. Read off the core's ``contributions`` (the same table
    ``imresize`` uses) at an interior position, after checking it is periodic (to 1e-12; the
    table is computed from x / scale in floating point) over all interior positions.
    """
    s = int(scale)
    if s != scale or s < 2:
        raise ValueError(f"scale must be an integer >= 2, got {scale}")
    n = 16
    w, idx = contributions(n, s * n, float(s), True)
    rows = []
    for k in range(BICUBIC_PAD + 1, n - BICUBIC_PAD - 1):  # away from the mirrored borders
        row = np.zeros((s, 2 * BICUBIC_PAD + 1))
        for p in range(s):
            for wt, i in zip(w[s * k + p], idx[s * k + p]):
                off = int(i) - k
                if wt != 0:
                    if not -BICUBIC_PAD <= off <= BICUBIC_PAD:
                        raise AssertionError(f"bicubic tap at offset {off} for scale {s}")
                    row[p, off + BICUBIC_PAD] += wt
        rows.append(row)
    k1 = rows[len(rows) // 2]
    if not all(np.allclose(r, k1, rtol=0, atol=1e-12) for r in rows):
        raise AssertionError(f"MATLAB bicubic x{s} is not periodic")
    return k1


def bicubic_conv_weight(scale: int) -> np.ndarray:
    """float64 (S*S, 1, 5, 5): channel py*S + px holds the 2-D (separable) phase filter."""
    k1 = bicubic_phases(scale)
    s = k1.shape[0]
    return np.einsum("ya,xb->yxab", k1, k1).reshape(s * s, 1, k1.shape[1], k1.shape[1])


def read_conv_stack(onnx_path: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """A weight file's conv stack as [(w (out, in, k, k), b (out,))], float32.

    Accepts exactly what ``srcnn.export.conv_stack_graph`` writes for weight files: a chain of
    stride-1, unpadded, undilated Conv nodes with a Relu between consecutive ones.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    layers, expect_conv, cur = [], True, g.input[0].name
    for node in g.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.input[0] != cur:
            raise ValueError(f"{onnx_path}: node {node.name or node.op_type} is not a plain chain")
        if node.op_type == "Conv" and expect_conv:
            if any(p != 0 for p in attrs.get("pads", [0])) or any(
                    v != 1 for k in ("strides", "dilations") for v in attrs.get(k, [1])) or \
                    attrs.get("group", 1) != 1 or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
                raise ValueError(f"{onnx_path}: only stride-1 'valid' convolutions are supported")
            w = inits[node.input[1]].astype(np.float32)
            b = inits[node.input[2]].astype(np.float32) if len(node.input) > 2 else np.zeros(w.shape[0], np.float32)
            if w.shape[2] != w.shape[3] or w.shape[2] % 2 == 0:
                raise ValueError(f"{onnx_path}: kernels must be square and odd, got {w.shape}")
            layers.append((w, b))
            expect_conv = False
        elif node.op_type == "Relu" and not expect_conv:
            expect_conv = True
        else:
            raise ValueError(f"{onnx_path}: unexpected {node.op_type} node in a SRCNN weight file")
        cur = node.output[0]
    if not layers or expect_conv or cur != g.output[0].name:
        raise ValueError(f"{onnx_path}: the graph must end with a Conv that gives its output")
    if layers[0][0].shape[1] != 1 or layers[-1][0].shape[0] != 1:
        raise ValueError(f"{onnx_path}: only Y-channel (1 -> 1) networks are supported")
    for (w0, _), (w1, _) in zip(layers, layers[1:]):
        if w1.shape[1] != w0.shape[0]:
            raise ValueError(f"{onnx_path}: channel counts of consecutive layers disagree")
    return layers


def stack_radius(layers) -> int:
    return sum((w.shape[2] - 1) // 2 for w, _ in layers)


def onnx_lr_to_hr(layers, scale: int, *, metadata: dict | None = None, name: str = "srcnn"):
    """ONNX ModelProto: studio-range LR Y (N, 1, h, w) -> HR Y (N, 1, S*h, S*w), opset 13.

    Every operator (Slice, Concat, Conv, DepthToSpace, Relu) loads in
    OpenCV 4.x and 5.x ``cv2.dnn`` and in onnxruntime.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    s = int(scale)
    r = stack_radius(layers)
    nodes, inits = [], []

    def const(arr, nm):
        inits.append(numpy_helper.from_array(np.asarray(arr), nm))
        return nm

    for nm, v in (("i0", 0), ("i1", 1), ("i2", 2), ("im1", -1), ("im2", -2), ("imax", _INT64_MAX)):
        const(np.array([v], np.int64), nm)
    const(np.array([2], np.int64), "ax_h")
    const(np.array([3], np.int64), "ax_w")

    def sym_pad(x, axis, tag):
        # MATLAB symmetric border: x1 x0 | x0 .. x(n-1) | x(n-1) x(n-2)
        ax = "ax_h" if axis == 2 else "ax_w"
        parts = []
        for nm, (a, b) in (("a1", ("i1", "i2")), ("a0", ("i0", "i1")),
                           ("z1", ("im1", "imax")), ("z2", ("im2", "im1"))):
            out = f"{tag}_{nm}"
            nodes.append(helper.make_node("Slice", [x, a, b, ax], [out], name=out))
            parts.append(out)
        out = f"{tag}_pad"
        nodes.append(helper.make_node("Concat", [parts[0], parts[1], x, parts[2], parts[3]], [out],
                                      axis=axis, name=out))
        return out

    def rep_pad(x, axis, n, tag):
        ax = "ax_h" if axis == 2 else "ax_w"
        first, last = f"{tag}_first", f"{tag}_last"
        nodes.append(helper.make_node("Slice", [x, "i0", "i1", ax], [first], name=first))
        nodes.append(helper.make_node("Slice", [x, "im1", "imax", ax], [last], name=last))
        out = f"{tag}_pad"
        nodes.append(helper.make_node("Concat", [first] * n + [x] + [last] * n, [out], axis=axis, name=out))
        return out

    cur = sym_pad("input", 2, "sym_h")
    cur = sym_pad(cur, 3, "sym_w")
    const(bicubic_conv_weight(s).astype(np.float32), "bicubic_w")
    nodes.append(helper.make_node("Conv", [cur, "bicubic_w"], ["bicubic_phases"], name="bicubic_phases",
                                  kernel_shape=[5, 5], pads=[0, 0, 0, 0]))
    nodes.append(helper.make_node("DepthToSpace", ["bicubic_phases"], ["bicubic"], name="bicubic",
                                  blocksize=s, mode="DCR"))
    cur = "bicubic"
    if r:
        # Replicate border by Slice + Concat rather than Pad mode edge: OpenCV 4.x refuses an
        # edge Pad wider than its input (images under r/S LR pixels).
        cur = rep_pad(cur, 2, r, "rep_h")
        cur = rep_pad(cur, 3, r, "rep_w")
    core, carry = split_carry(layers)
    for i, (w, b) in enumerate(core, 1):
        out = "output" if i == len(core) and carry is None else f"conv{i}"
        nodes.append(helper.make_node("Conv", [cur, const(np.asarray(w, np.float32), f"w{i}"),
                                               const(np.asarray(b, np.float32), f"b{i}")], [out],
                                      name=out, kernel_shape=list(w.shape[2:]), pads=[0, 0, 0, 0]))
        cur = out
        if i < len(core):
            nodes.append(helper.make_node("Relu", [cur], [f"relu{i}"], name=f"relu{i}"))
            cur = f"relu{i}"
    if carry is not None:  # output += a3 relu(a2 relu(a1 y + c1) + c2), y = the bicubic image
        t = "bicubic"
        for j, (a, c, relu) in enumerate(carry.steps(), 1):
            out = f"carry{j}"
            nodes.append(helper.make_node("Conv", [t, const(np.full((1, 1, 1, 1), a, np.float32), f"carry_w{j}"),
                                                   const(np.array([c], np.float32), f"carry_b{j}")], [out],
                                          name=out, kernel_shape=[1, 1], pads=[0, 0, 0, 0]))
            t = out
            if relu:
                nodes.append(helper.make_node("Relu", [t], [f"carry_relu{j}"], name=f"carry_relu{j}"))
                t = f"carry_relu{j}"
        nodes.append(helper.make_node("Add", [cur, t], ["output"], name="output"))
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="srcnn")
    model.ir_version = 8  # loadable by older onnxruntime and OpenCV releases
    model.doc_string = (f"SRCNN x{s}: studio-range (BT.601, MATLAB rgb2ycbcr) low-resolution Y in [0, 1], "
                        f"float32 (N, 1, h, w), h, w >= 2 -> high-resolution Y (N, 1, {s}h, {s}w). "
                        "MATLAB bicubic upsampling is inside the graph.")
    for k, v in sorted((metadata or {}).items()):
        model.metadata_props.append(onnx.StringStringEntryProto(key=str(k), value=str(v)))
    onnx.checker.check_model(model)
    return model

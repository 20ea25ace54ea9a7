"""The self-contained LR-Y -> HR-Y network, as numpy weights and as an ONNX graph.

One network, two file formats (ONNX here, TensorFlow GraphDef in ``tfgraph.py``), same stages:

1. MATLAB's symmetric (half-sample) border of 2 LR pixels;
2. MATLAB ``imresize(y, S, 'bicubic')`` as one fixed 5x5 Conv with S*S outputs (one per
   output phase) and their interleave into the S-times larger image: for an integer upscale,
   MATLAB's bicubic is a polyphase filter with 4 taps per phase (weights from the core's own
   ``contributions``);
3. replicate border of ``radius`` HR pixels and the weight file's 'valid' conv stack, exactly
   what the core pipeline does on the pre-upsampled Y. A residual model's pass-through channel
   (``srcnn.fast.split_carry``) is computed apart, from the bicubic image, by three 1x1 convs
   and added to the output: the two large layers then have 64 -> 32 channels, which OpenCV's
   dnn runs 1.3x faster than 65 -> 33 (512x512 9-5-5, 2 threads: 344 against 450 ms).

Only operators that every ``cv2.dnn`` from 4.5.4 to 5.x imports with a dynamic input size:
OpenCV's ONNX importer up to 4.10 at least (4.14 and 5.0 do) takes DepthToSpace only with
static shapes (parse error in ``computeShapeByReshapeMask``), so the interleave is Transpose/Reshape with fixed channel
counts; before 4.6 a Slice may not start from the end and before 4.5.5 there is no edge Pad,
so the far borders are built from reflect and constant Pads, a one-pixel shift and a 0/1 mask
(``python -m srcnn.opencv.bench`` times the interleave options).

Shapes: float32 (N, 1, h, w) studio-range Y in [0, 1] -> (N, 1, S*h, S*w); h, w >= 2.
Build-time only (needs ``onnx``); nothing here runs on the inference path.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from srcnn.fast import split_carry
from srcnn.resize import contributions

__all__ = ["BICUBIC_PAD", "bicubic_phases", "diag", "read_conv_stack", "stack_radius", "onnx_lr_to_hr"]

OPSET = 13
BICUBIC_PAD = 2  # LR pixels of symmetric border the 4-tap phases need (offsets -2..+2)


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


def bicubic_conv_weight(scale: int, channels: int = 1) -> np.ndarray:
    """float64 (S*S*C, C, 5, 5): channel (py*S + px)*C + c holds the 2-D (separable) phase
    filter on input channel c (the order DepthToSpace interleaves; C = 1: py*S + px)."""
    k1 = bicubic_phases(scale)
    s, t, c = k1.shape[0], k1.shape[1], int(channels)
    k2 = np.einsum("ya,xb->yxab", k1, k1).reshape(s * s, 1, 1, t, t)
    return (k2 * np.eye(c)[None, :, :, None, None]).reshape(s * s * c, c, t, t)


def diag(k, channels: int) -> np.ndarray:
    """(kh, kw) kernel -> float32 (C, C, kh, kw) weights applying it to each channel on its own."""
    return np.einsum("ij,hw->ijhw", np.eye(int(channels), dtype=np.float32), np.asarray(k, np.float32))


def read_conv_stack(onnx_path: str | Path, channels: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """A weight file's conv stack as [(w (out, in, k, k), b (out,))], float32.

    ``channels``: 1 for the Y models, 3 for an RGB model; the stack must be that many in and out.

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
    if layers[0][0].shape[1] != channels or layers[-1][0].shape[0] != channels:
        what = "Y-channel (1 -> 1)" if channels == 1 else f"{channels} -> {channels} channel"
        raise ValueError(f"{onnx_path}: only {what} networks are supported here")
    for (w0, _), (w1, _) in zip(layers, layers[1:]):
        if w1.shape[1] != w0.shape[0]:
            raise ValueError(f"{onnx_path}: channel counts of consecutive layers disagree")
    return layers


def stack_radius(layers) -> int:
    return sum((w.shape[2] - 1) // 2 for w, _ in layers)


def _interleave(nodes, const, x: str, out: str, s: int, how: str) -> None:
    """(N, S*S, h, w) phases, channel py*S + px -> (N, 1, S*h, S*w): pixel (S*i + py, S*j + px)."""
    from onnx import helper

    if how == "depth_to_space":  # OpenCV 4.5-4.10's importers need static shapes for it
        nodes.append(helper.make_node("DepthToSpace", [x], [out], name=out, blocksize=s, mode="DCR"))
    elif how == "conv_transpose":  # stride S, one-hot S x S kernels: each output pixel is one phase
        w = np.zeros((s * s, 1, s, s), np.float32)
        for py in range(s):
            for px in range(s):
                w[py * s + px, 0, py, px] = 1
        nodes.append(helper.make_node("ConvTranspose", [x, const(w, "interleave_w")], [out], name=out,
                                      kernel_shape=[s, s], strides=[s, s], pads=[0, 0, 0, 0]))
    elif how == "reshape":
        # Only shapes OpenCV 4.5's Reshape can infer at run time: 0 copies the input dimension
        # at the same index, -1 takes the rest, the other entries are fixed channel counts.
        steps = [("Transpose", [0, 2, 3, 1]),      # (N, h, w, S*S)
                 ("Reshape", [0, 0, 0, s, s]),      # (N, h, w, py, px)
                 ("Transpose", [0, 1, 3, 2, 4]),   # (N, h, py, w, px)
                 ("Reshape", [0, 0, 0, -1]),        # (N, h, py, S*w)
                 # OpenCV 5.0 merges two consecutive Reshapes and then copies the 0 entries of
                 # the second from the first one's input (wrong shape): a Mul by 1 between.
                 ("Mul", 1.0),
                 ("Reshape", [0, 1, -1, 0])]        # (N, 1, S*h, S*w): 0 copies N and S*w
        cur = x
        for k, (op, arg) in enumerate(steps, 1):
            o = out if k == len(steps) else f"{out}_{k}"
            if op == "Transpose":
                nodes.append(helper.make_node(op, [cur], [o], name=o, perm=arg))
            elif op == "Mul":
                nodes.append(helper.make_node(op, [cur, const(np.array(arg, np.float32), f"{o}_one")], [o], name=o))
            else:
                nodes.append(helper.make_node(op, [cur, const(np.array(arg, np.int64), f"{o}_shape")], [o], name=o))
            cur = o
    else:
        raise ValueError(f"interleave must be depth_to_space, conv_transpose or reshape, got {how!r}")


def onnx_lr_to_hr(layers, scale: int, *, metadata: dict | None = None, name: str = "srcnn",
                  interleave: str = "reshape", channels: int = 1, pre=None, post=None,
                  layout: str = "nchw", doc: str | None = None):
    """ONNX ModelProto: studio-range LR Y (N, 1, h, w) -> HR Y (N, 1, S*h, S*w), opset 13.

    Every operator loads in ``cv2.dnn`` of OpenCV 4.5.4 to 5.x and in onnxruntime.
    ``interleave`` (the phases -> image step): 'reshape' (the default, loads everywhere),
    'conv_transpose' (loads everywhere) or 'depth_to_space' (fails in 4.5.4-4.10).

    The variants for ``dnn_superres`` (``superres.py``): ``channels`` 3 for an RGB conv stack
    (needs 'depth_to_space'); ``pre`` / ``post``: (w (C, C, 1, 1), b (C,)) 1x1 convs from what
    the caller feeds to what the weights expect and back; ``layout`` 'any' (one channel only):
    the input may be (N, 1, h, w) or (N, h, w, 1) (h, w >= 2 tell them apart), reshaped to the
    first at the start.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    s, c = int(scale), int(channels)
    if c != 1 and interleave != "depth_to_space":
        raise ValueError("more than one channel needs interleave='depth_to_space'")
    if layout not in ("nchw", "any") or (layout == "any" and c != 1):
        raise ValueError(f"layout must be 'nchw', or 'any' with one channel, got {layout!r}")
    r = stack_radius(layers)
    nodes, inits = [], []

    def const(arr, nm):
        if nm not in {t.name for t in inits}:
            inits.append(numpy_helper.from_array(np.asarray(arr), nm))
        return nm

    for nm, v in (("i0", 0), ("i1", 1), ("i2", 2)):
        const(np.array([v], np.int64), nm)
    const(np.array([2], np.int64), "ax_h")
    const(np.array([3], np.int64), "ax_w")

    def node(kind, ins, tag, **attrs):
        nodes.append(helper.make_node(kind, list(ins), [tag], name=tag, **attrs))
        return tag

    def tail_pad(x, axis, n, mode, tag, value=None):
        pads = [0] * 8
        pads[4 + axis] = n
        ins = [x, const(np.array(pads, np.int64), f"{tag}_pads")]
        if value is not None:
            ins.append(const(np.array(value, np.float32), f"value_{value:g}"))
        return node("Pad", ins, tag, mode=mode)

    def front(x, axis, idx, tag):
        """Concat of x[idx[0]], x[idx[1]], ..., x along ``axis`` (Slices from the front only)."""
        ax = "ax_h" if axis == 2 else "ax_w"
        parts = [node("Slice", [x, f"i{i}", f"i{i + 1}", ax], f"{tag}_{i}") for i in sorted(set(idx))]
        return node("Concat", [parts[sorted(set(idx)).index(i)] for i in idx] + [x], f"{tag}_front", axis=axis)

    def shifted(x, axis, tag):
        """y[i] = x[i - 1] along ``axis`` (x[-1] = 0): a one-tap Conv."""
        k = np.zeros((3, 1) if axis == 2 else (1, 3), np.float32)
        k[0, 0] = 1
        pads = [1, 0, 1, 0] if axis == 2 else [0, 1, 0, 1]
        return node("Conv", [x, const(diag(k, c), f"shift_w{axis}")], tag, kernel_shape=list(k.shape), pads=pads)

    def tail_mask(x, axis, n, tag):
        """0 over x, 1 over the n pixels a tail Pad adds."""
        # A 1x1 Conv, not a Mul by 0: OpenCV 4.8+'s importer infers different shapes for them.
        zero = node("Conv", [x, const(diag(np.zeros((1, 1)), c), "zero_w")], f"{tag}_zero", kernel_shape=[1, 1])
        return tail_pad(zero, axis, n, "constant", tag, 1.0)

    # OpenCV before 4.6 takes no negative Slice start and before 4.5.5 no edge Pad, so the far
    # border is made from what every version has: a reflect Pad (x(n-2) beyond x(n-1)),
    # shifted by one pixel where the border needs x(n-1), chosen by a 0/1 mask.
    def sym_pad(x, axis, tag):
        # MATLAB symmetric border of 2: x1 x0 | x0 .. x(n-1) | x(n-1) x(n-2)
        f = front(x, axis, [1, 0], tag)
        refl = tail_pad(f, axis, 2, "reflect", f"{tag}_refl")  # .. x(n-1) | x(n-2) x(n-3)
        fix = node("Sub", [shifted(refl, axis, f"{tag}_shift"), refl], f"{tag}_diff")
        fix = node("Mul", [tail_mask(f, axis, 2, f"{tag}_mask"), fix], f"{tag}_fix")
        return node("Add", [refl, fix], f"{tag}_pad")

    def rep_pad(x, axis, n, tag):
        # replicate border of n: x0 (n times) | x0 .. x(n-1) | x(n-1) (n times)
        f = front(x, axis, [0] * n, tag)
        last = node("Mul", [tail_mask(f, axis, 1, f"{tag}_mask"),
                            shifted(tail_pad(f, axis, 1, "reflect", f"{tag}_refl"), axis, f"{tag}_shift")],
                    f"{tag}_last")  # x(n-1) one pixel beyond the end, 0 elsewhere
        box = diag(np.ones((n, 1) if axis == 2 else (1, n)), c)
        pads = [0] * 8
        pads[axis], pads[4 + axis] = n - 1, n - 1
        last = node("Pad", [last, const(np.array(pads, np.int64), f"{tag}_box_pads")], f"{tag}_box_in", mode="constant")
        spread = node("Conv", [last, const(box, f"{tag}_box_w")], f"{tag}_spread", kernel_shape=list(box.shape[2:]),
                      pads=[0, 0, 0, 0])  # that value over the n pixels beyond the end
        return node("Add", [tail_pad(f, axis, n, "constant", f"{tag}_zeros", 0.0), spread], f"{tag}_pad")

    cur = "input"
    if layout == "any":  # (N, 1, h, w) stays, (N, h, w, 1) -> (N, 1, h, w): dim 1 is 1 only for the first
        dims = node("Shape", [cur], "in_shape")
        const(np.array([0, 3, 1, 2], np.int64), "nhwc_to_nchw")
        nchw = node("Gather", [dims, "nhwc_to_nchw"], "in_shape_nchw", axis=0)
        is_nchw = node("Equal", [node("Gather", [dims, "i1"], "in_dim1", axis=0), "i1"], "in_is_nchw")
        cur = node("Reshape", [cur, node("Where", [is_nchw, dims, nchw], "in_target")], "input_nchw")
    if pre is not None:
        cur = node("Conv", [cur, const(np.asarray(pre[0], np.float32), "pre_w"),
                            const(np.asarray(pre[1], np.float32), "pre_b")], "pre", kernel_shape=[1, 1])
    cur = sym_pad(cur, 2, "sym_h")
    cur = sym_pad(cur, 3, "sym_w")
    const(bicubic_conv_weight(s, c).astype(np.float32), "bicubic_w")
    nodes.append(helper.make_node("Conv", [cur, "bicubic_w"], ["bicubic_phases"], name="bicubic_phases",
                                  kernel_shape=[5, 5], pads=[0, 0, 0, 0]))
    _interleave(nodes, const, "bicubic_phases", "bicubic", s, interleave)
    cur = "bicubic"
    if r:
        cur = rep_pad(cur, 2, r, "rep_h")
        cur = rep_pad(cur, 3, r, "rep_w")
    core, carry = split_carry(layers)
    for i, (w, b) in enumerate(core, 1):
        out = "output" if i == len(core) and carry is None and post is None else f"conv{i}"
        nodes.append(helper.make_node("Conv", [cur, const(np.asarray(w, np.float32), f"w{i}"),
                                               const(np.asarray(b, np.float32), f"b{i}")], [out],
                                      name=out, kernel_shape=list(w.shape[2:]), pads=[0, 0, 0, 0]))
        cur = out
        if i < len(core):
            nodes.append(helper.make_node("Relu", [cur], [f"relu{i}"], name=f"relu{i}"))
            cur = f"relu{i}"
    if carry is not None:  # output += a3 relu(a2 relu(a1 y + c1) + c2), y = the bicubic image
        t = "bicubic"
        for j, (a, bias, relu) in enumerate(carry.steps(), 1):
            out = f"carry{j}"
            nodes.append(helper.make_node("Conv", [t, const(np.full((1, 1, 1, 1), a, np.float32), f"carry_w{j}"),
                                                   const(np.array([bias], np.float32), f"carry_b{j}")], [out],
                                          name=out, kernel_shape=[1, 1], pads=[0, 0, 0, 0]))
            t = out
            if relu:
                nodes.append(helper.make_node("Relu", [t], [f"carry_relu{j}"], name=f"carry_relu{j}"))
                t = f"carry_relu{j}"
        out = "output" if post is None else "cnn"
        nodes.append(helper.make_node("Add", [cur, t], [out], name=out))
        cur = out
    if post is not None:
        nodes.append(helper.make_node("Conv", [cur, const(np.asarray(post[0], np.float32), "post_w"),
                                               const(np.asarray(post[1], np.float32), "post_b")], ["output"],
                                      name="output", kernel_shape=[1, 1]))
    in_dims = ["N", "d1", "d2", "d3"] if layout == "any" else ["N", c, "h", "w"]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_dims)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", c, "H", "W"])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="srcnn")
    model.ir_version = 8  # loadable by older onnxruntime and OpenCV releases
    model.doc_string = doc or (f"SRCNN x{s}: studio-range (BT.601, MATLAB rgb2ycbcr) low-resolution Y in [0, 1], "
                               f"float32 (N, 1, h, w), h, w >= 2 -> high-resolution Y (N, 1, {s}h, {s}w). "
                               "MATLAB bicubic upsampling is inside the graph.")
    for k, v in sorted((metadata or {}).items()):
        model.metadata_props.append(onnx.StringStringEntryProto(key=str(k), value=str(v)))
    onnx.checker.check_model(model)
    return model

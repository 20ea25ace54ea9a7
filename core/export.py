"""Write SRCNN weight files: numpy conv weights -> ONNX conv stack + JSON manifest.

Used by ``build.py weights`` (trained checkpoints) and by the tests (small known networks).
Needs the ``onnx`` package (a build/test dependency, never imported on the inference path).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .runtime import sha256_file

OPSET = 13


def conv_stack_graph(layers: list[tuple[np.ndarray, np.ndarray]], *, pad_input: int = 0,
                     name: str = "srcnn"):
    """ONNX model: Conv(+ReLU) ... Conv, 'valid', float32 (N, C, H, W) -> (N, C, H-2r, W-2r).

    ``layers`` is [(weight (out, in, k, k), bias (out,))]; every layer but the last is
    followed by ReLU. ``pad_input`` > 0 adds an edge (replicate) Pad first, so output size
    equals input size.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    cin = layers[0][0].shape[1]
    cur = "input"
    if pad_input:
        p = pad_input
        inits.append(numpy_helper.from_array(np.array([0, 0, p, p, 0, 0, p, p], np.int64), "pads"))
        nodes.append(helper.make_node("Pad", [cur, "pads"], ["padded"], mode="edge"))
        cur = "padded"
    for i, (w, b) in enumerate(layers):
        w = np.asarray(w, np.float32)
        b = np.asarray(b, np.float32)
        inits += [numpy_helper.from_array(w, f"w{i + 1}"), numpy_helper.from_array(b, f"b{i + 1}")]
        out = "output" if i == len(layers) - 1 else f"conv{i + 1}"
        nodes.append(helper.make_node("Conv", [cur, f"w{i + 1}", f"b{i + 1}"], [out],
                                      kernel_shape=list(w.shape[2:]), pads=[0, 0, 0, 0]))
        cur = out
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [cur], [f"relu{i + 1}"]))
            cur = f"relu{i + 1}"
    cout = layers[-1][0].shape[0]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", cin, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", cout, "H_out", "W_out"])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="srcnn")
    model.ir_version = 8  # loadable by older onnxruntime and OpenCV releases
    onnx.checker.check_model(model)
    return model


def receptive_radius(layers) -> int:
    return sum((w.shape[2] - 1) // 2 for w, _ in layers)


def write_model(folder: str | Path, name: str, layers, *, scale: int, variant: str,
                extra: dict | None = None, colour: str | None = None) -> Path:
    """Write ``folder/name.onnx`` and ``folder/name.json``; returns the manifest path.

    The ONNX file is written deterministically (same weights -> same bytes -> same sha256).
    """
    import onnx

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = conv_stack_graph(layers, name=name)
    onnx_path = folder / f"{name}.onnx"
    onnx_path.write_bytes(model.SerializeToString(deterministic=True))
    ws = [w for w, _ in layers]
    arch = {f"f{i + 1}": int(w.shape[2]) for i, w in enumerate(ws)}
    arch.update({f"n{i + 1}": int(w.shape[0]) for i, w in enumerate(ws[:-1])})
    arch["parameters"] = int(sum(w.size + b.size for w, b in layers))
    manifest = {
        "name": name,
        "file": onnx_path.name,
        "variant": variant,
        "scale": int(scale),
        "architecture": arch,
        "channels": int(ws[0].shape[1]),
        "colour": colour or ("y" if ws[0].shape[1] == 1 else "rgb"),
        "input": ("bicubic-upsampled (MATLAB imresize) Y of MATLAB rgb2ycbcr, float32 in [0, 1], "
                  "(N, 1, H, W), replicate-padded by radius") if ws[0].shape[1] == 1 else
                 ("bicubic-upsampled (MATLAB imresize) R, G, B, float32 in [0, 1], (N, 3, H, W), "
                  "replicate-padded by radius"),
        "padding": "valid",
        "radius": receptive_radius(layers),
        "sha256": sha256_file(onnx_path),
    }
    manifest.update(extra or {})
    path = folder / f"{name}.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path

"""The ``dnn_superres`` networks as ONNX, for OpenCV 5.1 and later.

OpenCV 5.1 removed its TensorFlow importer: ``DnnSuperResImpl.readModel`` reads ONNX there
and no ``.pb`` loads any more (``readNet`` says "TensorFlow importer has been removed"). What
``upsample`` feeds and expects is otherwise the same (measured on 5.1.0 with probe graphs that
return their input's shape): "fsrcnn" / "espcn" / "lapsrn" feed OpenCV's full-range Y in [0, 1]
as (1, h, w, 1), channels last, and read the output as (1, 1, H, W); "edsr" feeds
(1, 3, h, w) B, G, R in 0-255 less ``EDSR_MEAN_BGR`` and reads (1, 3, H, W).

So these are ``graph.onnx_lr_to_hr`` with the range conversions of ``tfgraph.py`` as 1x1
convs at both ends, ``DepthToSpace`` for the interleave (5.x imports it with any input size)
and, for Y, an input that may be (1, h, w, 1) or (1, 1, h, w) (should a later OpenCV feed
channels first, the same file still works). Build-time only, like ``graph.py``.
"""
from __future__ import annotations

from .graph import onnx_lr_to_hr
from .tfgraph import EDSR_MEAN_BGR, edsr_convs, y_range_convs

__all__ = ["superres_onnx_y", "superres_onnx_rgb"]


def superres_onnx_y(layers, scale: int, *, metadata: dict | None = None) -> bytes:
    """``srcnn_x{S}_superres.onnx``: full-range LR Y, (1, h, w, 1) or (1, 1, h, w), in [0, 1]
    -> full-range HR Y (1, 1, S*h, S*w), for ``setModel("fsrcnn", S)`` on OpenCV 5.1+."""
    s = int(scale)
    pre, post = y_range_convs()
    doc = (f"SRCNN x{s} for cv2.dnn_superres (OpenCV 5.1+, algorithm 'fsrcnn'): OpenCV's full-range "
           f"low-resolution Y in [0, 1], float32 (N, h, w, 1) or (N, 1, h, w), h, w >= 2 -> full-range "
           f"high-resolution Y (N, 1, {s}h, {s}w). Studio-range conversion and MATLAB bicubic inside.")
    m = onnx_lr_to_hr(layers, s, metadata=metadata, name=f"srcnn_x{s}_superres", interleave="depth_to_space",
                      pre=pre, post=post, layout="any", doc=doc)
    return m.SerializeToString(deterministic=True)


def superres_onnx_rgb(layers, scale: int, *, metadata: dict | None = None) -> bytes:
    """``srcnn_rgb_x{S}_superres.onnx``: what "edsr" feeds (1, 3, h, w), B, G, R in 0-255 less
    ``EDSR_MEAN_BGR``, -> the same for the S-times larger image; ``layers`` an RGB conv stack
    (R, G, B in [0, 1]). The conversions are those of ``tfgraph.graphdef_rgb_lr_to_hr``."""
    s = int(scale)
    pre, post = edsr_convs()
    doc = (f"SRCNN 9-5-5-rgb x{s} for cv2.dnn_superres (OpenCV 5.1+, algorithm 'edsr'): float32 (N, 3, h, w) "
           f"B, G, R in 0-255 less the DIV2K mean {tuple(EDSR_MEAN_BGR)}, h, w >= 2 -> (N, 3, {s}h, {s}w), "
           "the same convention. MATLAB bicubic inside.")
    m = onnx_lr_to_hr(layers, s, metadata=metadata, name=f"srcnn_rgb_x{s}_superres", interleave="depth_to_space",
                      channels=3, pre=pre, post=post, doc=doc)
    return m.SerializeToString(deterministic=True)

"""srcnn for OpenCV: the model files in ``models/`` and three helpers.

``models/srcnn_x{S}.onnx``: studio-range LR Y (N, 1, h, w) in [0, 1] -> HR Y (N, 1, S*h, S*w),
MATLAB bicubic inside; for ``cv2.dnn.readNet`` and onnxruntime. ``models/srcnn_x{S}.pb``: the
same network for ``cv2.dnn_superres`` (full-range Y in and out, the conversion inside) on
OpenCV 4.x and 5.0; ``models/srcnn_x{S}_superres.onnx``: the same for OpenCV 5.1 and later,
whose ``dnn_superres`` reads ONNX only. ``models/srcnn_rgb_x{S}.pb`` / ``_superres.onnx``: the
colour (9-5-5-rgb) network for ``dnn_superres``'s "edsr" algorithm, BGR in and out
(``create_superres(S, rgb=True)``). ``create_superres`` picks the file the installed OpenCV reads.

    >>> from srcnn.opencv import create_superres
    >>> sr = create_superres(3)
    >>> big = sr.upsample(cv2.imread("small.png"))   # doctest: +SKIP

Nothing here imports ``cv2.dnn_superres`` at import time: creating a ``DnnSuperResImpl``
registers a process-wide DepthToSpace layer, so only ``create_superres`` does.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

__all__ = ["MODELS_DIR", "available_scales", "model_path", "superres_format", "read_net", "create_superres",
           "upsample_bgr"]

MODELS_DIR = Path(__file__).resolve().parent / "models"
# LR pixels of context each tile of ``upsample_bgr`` reads beyond its own region: the bicubic
# needs 2, the conv stack ceil(radius / S); 12 is exact for any radius up to 20 (9-5-5: 8).
TILE_HALO = 12
MAX_RADIUS = 20


def available_scales(folder: str | Path | None = None, *, rgb: bool = False, photo: bool = False) -> list[int]:
    """Scales with both an .onnx and a .pb in ``folder`` (default: the shipped models);
    ``rgb``: scales with a ``srcnn_rgb_x{S}.pb`` (the colour network for "edsr"); ``photo``: of the
    photo model (``srcnn_photo_x{S}``, trained on JPEG, noisy and otherwise resampled pictures)."""
    d = Path(folder) if folder else MODELS_DIR
    stem = "srcnn_photo_x" if photo else "srcnn_x"
    out = []
    if rgb:
        for p in d.glob("srcnn_rgb_x*.pb"):
            s = p.stem[len("srcnn_rgb_x"):]
            if s.isdigit():
                out.append(int(s))
        return sorted(out)
    for p in d.glob(stem + "*.onnx"):
        s = p.stem[len(stem):]
        if s.isdigit() and p.with_suffix(".pb").is_file():
            out.append(int(s))
    return sorted(out)


_NAMES = {"onnx": "srcnn_x{s}.onnx", "pb": "srcnn_x{s}.pb", "superres": "srcnn_x{s}_superres.onnx"}


def model_path(scale: int, fmt: str = "onnx", folder: str | Path | None = None, *, rgb: bool = False,
               photo: bool = False) -> Path:
    """Path of a built model file; FileNotFoundError if not built.

    ``fmt``: 'onnx' (``srcnn_x{scale}.onnx``, for ``cv2.dnn``), 'pb' (``srcnn_x{scale}.pb``, for
    ``dnn_superres`` on OpenCV 4.x / 5.0) or 'superres' (``srcnn_x{scale}_superres.onnx``, for
    ``dnn_superres`` on OpenCV 5.1+). With ``rgb``: ``srcnn_rgb_x{scale}.pb`` or
    ``srcnn_rgb_x{scale}_superres.onnx`` (the colour network is built for ``dnn_superres`` only).
    With ``photo``: ``srcnn_photo_x{scale}.*``, the photo model's files, in the same three formats.
    """
    if fmt not in _NAMES:
        raise ValueError(f"fmt must be 'onnx', 'pb' or 'superres', got {fmt!r}")
    if rgb and fmt == "onnx":
        raise ValueError("the RGB model is built only for dnn_superres 'edsr' (fmt 'pb' or 'superres'); for "
                         "cv2.dnn read the weight file itself (weights/srcnn_955rgb_x3.onnx)")
    if isinstance(scale, bool) or int(scale) != scale:
        raise ValueError(f"scale must be an integer, got {scale!r}")
    d = Path(folder) if folder else MODELS_DIR
    name = _NAMES[fmt].format(s=int(scale))
    p = d / (name.replace("srcnn_x", "srcnn_rgb_x") if rgb else name.replace("srcnn_x", "srcnn_photo_x") if photo
             else name)
    if not p.is_file():
        have = ", ".join(f"x{s}" for s in available_scales(d, rgb=rgb, photo=photo)) or \
            "none (run `python build.py opencv`)"
        kind = "RGB " if rgb else "photo " if photo else ""
        raise FileNotFoundError(f"no OpenCV {kind}model for x{scale} in {d} (built: {have})")
    return p


def read_net(scale: int, folder: str | Path | None = None, *, photo: bool = False):
    """A fresh ``cv2.dnn.Net`` of ``srcnn_x{scale}.onnx`` (``photo``: ``srcnn_photo_x{scale}.onnx``;
    studio-range Y in and out).

    Input: float32 blob (N, 1, h, w), h, w >= 2, studio-range Y in [0, 1]
    (``rgb2ycbcr(rgb)[..., 0]``, MATLAB's BT.601); output (N, 1, S*h, S*w), same range.
    """
    import cv2

    # a path, never bytes: readNetFromONNX(bytes) crashes the process (FACTS 3)
    return cv2.dnn.readNetFromONNX(str(model_path(scale, "onnx", folder, photo=photo)))


def superres_format() -> str:
    """Which file the installed OpenCV's ``dnn_superres`` reads: 'pb' (a TensorFlow GraphDef,
    OpenCV 4.x and 5.0) or 'superres' (ONNX: OpenCV 5.1 removed the TensorFlow importer)."""
    import cv2

    return "pb" if hasattr(cv2.dnn, "readNetFromTensorflow") else "superres"


def create_superres(scale: int, folder: str | Path | None = None, *, rgb: bool = False, photo: bool = False):
    """A ``cv2.dnn_superres.DnnSuperResImpl`` loaded with ``srcnn_x{scale}.pb`` (OpenCV 4.x, 5.0)
    or ``srcnn_x{scale}_superres.onnx`` (OpenCV 5.1+: ``superres_format()``), ready to ``upsample``.

    ``sr.upsample(bgr_uint8)`` returns the (S*H, S*W, 3) BGR uint8 image: Y through SRCNN,
    Cr/Cb enlarged by OpenCV (bilinear). Needs the contrib OpenCV wheel. Creating it registers
    OpenCV's process-wide custom DepthToSpace layer.

    ``rgb=True``: ``srcnn_rgb_x{scale}.pb`` / ``_superres.onnx`` with algorithm "edsr" (the
    colour network, all of B, G, R through the CNN; ``upsample`` then takes 3-channel images,
    8-bit or float 0-255, and returns uint8; OpenCV up to 5.0 refuses other images, 5.1 does not
    check, so pass BGR). Same result as ``srcnn.upscale(rgb, S, model="9-5-5-rgb")`` to one
    grey level. ``photo=True``: the photo model's files (``srcnn_photo_x{scale}``), Y only, as the
    default ones.
    """
    import cv2

    if not hasattr(cv2, "dnn_superres"):
        raise ImportError("cv2.dnn_superres is missing: install opencv-contrib-python(-headless), "
                          "not opencv-python (only one OpenCV wheel may be installed)")
    path = model_path(scale, superres_format(), folder, rgb=rgb, photo=photo)
    sr = cv2.dnn_superres.DnnSuperResImpl_create()
    sr.readModel(str(path))
    # any of fsrcnn/espcn/lapsrn selects the Y-only path; edsr feeds BGR - mean, 0-255
    sr.setModel("edsr" if rgb else "fsrcnn", int(scale))
    return sr


_NETS: dict[tuple[str, int], tuple[object, threading.Lock]] = {}
_NETS_LOCK = threading.Lock()


def _net(scale: int, folder, photo: bool = False):
    key = (str(model_path(scale, "onnx", folder, photo=photo)), int(scale))
    with _NETS_LOCK:
        if key not in _NETS:
            _NETS[key] = (read_net(scale, folder, photo=photo), threading.Lock())
        return _NETS[key]


def _run_y(y: np.ndarray, scale: int, folder, tile: int, photo: bool = False) -> np.ndarray:
    """float32 (h, w) studio Y -> (S*h, S*w), one LR tile (plus halo) at a time."""
    net, lock = _net(scale, folder, photo)
    h, w = y.shape
    s = int(scale)
    out = np.empty((s * h, s * w), np.float32)
    nr, nc = math.ceil(h / tile), math.ceil(w / tile)
    for i in range(nr):
        r0, r1 = round(i * h / nr), round((i + 1) * h / nr)
        a0, a1 = max(r0 - TILE_HALO, 0), min(r1 + TILE_HALO, h)
        for j in range(nc):
            c0, c1 = round(j * w / nc), round((j + 1) * w / nc)
            b0, b1 = max(c0 - TILE_HALO, 0), min(c1 + TILE_HALO, w)
            blob = np.ascontiguousarray(y[a0:a1, b0:b1], np.float32)[None, None]
            with lock:  # a cv2.dnn.Net is not re-entrant
                net.setInput(blob)
                hr = net.forward()[0, 0]
            out[s * r0:s * r1, s * c0:s * c1] = hr[s * (r0 - a0):s * (r1 - a0), s * (c0 - b0):s * (c1 - b0)]
    return out


def upsample_bgr(img: np.ndarray, scale: int, *, folder: str | Path | None = None, tile: int = 192,
                 photo: bool = False) -> np.ndarray:
    """Upscale an OpenCV image with ``srcnn_x{scale}.onnx`` (``photo``: ``srcnn_photo_x{scale}.onnx``,
    for JPEG or noisy pictures) run by ``cv2.dnn``.

    Same recipe as ``srcnn.pipeline.upscale`` (agrees with it to one grey level): MATLAB
    BT.601 studio-range YCbCr, Y through the network, Cb/Cr (and alpha) by MATLAB bicubic.

    Args:
        img: (H, W) grey, (H, W, 3) BGR or (H, W, 4) BGRA; uint8, uint16 or float in [0, 1];
            H, W >= 2. Grey is taken as Y, as the core pipeline does.
        scale: one of ``available_scales()``.
        tile: LR tile side (memory bound; the result does not depend on it).

    Returns:
        (S*H, S*W[, C]) array, same layout and dtype (float output is not clipped).
    """
    from srcnn.colour import from_float, rgb2ycbcr, to_float, ycbcr2rgb
    from srcnn.resize import imresize

    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got "
                         f"{getattr(img, 'shape', type(img).__name__)}")
    if min(img.shape[:2]) < 2:
        raise ValueError(f"image must be at least 2x2 pixels, got {img.shape[1]}x{img.shape[0]}")
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    s = int(scale)
    x = to_float(img)
    if not np.isfinite(x).all():
        raise ValueError("image contains NaN or infinite values")
    alpha = x[:, :, 3] if x.ndim == 3 and x.shape[2] == 4 else None
    if x.ndim == 2 or x.shape[2] == 1:
        y = _run_y(x.reshape(x.shape[:2]).astype(np.float32), s, folder, tile, photo).astype(np.float64)
        out = y.reshape(y.shape + img.shape[2:])
    else:
        ycc = rgb2ycbcr(np.ascontiguousarray(x[:, :, 2::-1]))  # BGR -> RGB -> float YCbCr, unrounded
        y = _run_y(ycc[:, :, 0].astype(np.float32), s, folder, tile, photo).astype(np.float64)
        cc = imresize(ycc[:, :, 1:], s)
        rgb = ycbcr2rgb(np.concatenate([y[:, :, None], cc], axis=2))
        out = rgb[:, :, ::-1]
        if alpha is not None:
            out = np.concatenate([out, imresize(alpha, s)[:, :, None]], axis=2)
    return from_float(np.ascontiguousarray(out), img.dtype)
